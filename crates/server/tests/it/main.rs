//! The behavioural suite: each test starts the real server on a random port against a fresh
//! database and talks HTTP to it. Every test runs on SQLite and on PostgreSQL (module `postgres`,
//! each test in a database of its own). The PostgreSQL ones need a server, so a plain
//! `cargo test` leaves them out; `-- --ignored postgres::` runs them (`.ci/run` does) from the
//! same build as the rest, which is why this is not a cargo feature.

// A failed expectation is how a test reports; panicking is the point here.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod harness;
mod scenarios;

/// Instantiates every scenario once per backend.
macro_rules! on_every_backend {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::scenarios::$name(crate::harness::Backend::Sqlite).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs PostgreSQL (CLOSEDLOOP_TEST_POSTGRES_URL); run with --ignored"]
                async fn $name() {
                    crate::scenarios::$name(crate::harness::Backend::Postgres).await;
                }
            )+
        }
    };
}

on_every_backend!(
    the_loop_closes_from_receipt_to_confirmation_with_exact_mails,
    nobody_approves_their_own_proposal_and_rejection_returns_to_work,
    links_with_a_bad_signature_or_past_their_time_are_refused,
    appeals_inside_the_window_are_reviewed_by_someone_not_involved,
    mail_server_down_for_a_while_then_every_notice_arrives_once,
    templates_are_checked_when_saved_and_used_when_sent,
    unanswered_results_close_by_themselves_and_low_scores_reopen,
    answering_the_result_mail_with_an_appeal_opens_one,
    sms_goes_only_to_users_who_consented,
    nps_is_asked_of_a_sample_and_reported,
    administrators_see_the_intake_log_and_retry_quarantine_in_the_browser,
    the_agent_console_shows_only_what_its_viewer_may_see,
    the_console_speaks_the_readers_language_and_time_zone,
    bulk_actions_change_what_the_rules_allow_and_report_the_rest,
    the_board_moves_what_the_rules_allow_and_explains_refusals,
    canned_responses_are_kept_by_supervisors_and_used_by_agents,
    customers_add_evidence_to_their_ticket_in_the_portal,
    administrators_manage_people_departments_templates_and_channels,
    search_finds_both_scripts_and_english_within_the_callers_scope,
    notes_are_searchable_by_staff_only_and_changes_are_found_at_once,
    the_console_search_page_finds_what_its_viewer_may_see,
    metrics_count_tickets_queues_and_requests,
    service_reports_count_what_happened_within_the_readers_scope,
    hot_issues_progress_and_transparency_reports_tell_what_is_happening,
    the_report_page_draws_charts_for_supervisors_only,
    articles_are_drafted_from_answers_published_by_supervisors_and_found_by_users,
    personal_data_from_public_channels_is_masked_and_revealed_on_record,
    erasure_leaves_nothing_of_the_person_and_the_reports_unchanged,
    later_messages_of_a_public_thread_are_masked_like_the_first,
    tickets_in_another_language_get_a_translation_beside_the_original,
    overdue_erasures_alert_administrators_once,
    a_customer_downloads_all_their_data_as_one_archive,
    closed_tickets_are_anonymised_after_the_retention_period,
    from_settings_people_change_their_password_and_customers_take_or_erase_their_data,
    every_ticket_route_refuses_other_departments_and_other_users_and_logs_it,
    sessions_rotate_on_sign_in_forms_need_csrf_and_guessing_locks_and_is_logged,
    staff_can_require_a_one_time_code_at_sign_in_and_each_code_works_once,
    accounts_lock_after_failed_sign_ins_in_a_row,
    read_only_tokens_read_and_cannot_change_or_escalate,
    the_workspace_suggests_resolved_tickets_that_read_alike,
    agents_draft_articles_from_answers_and_see_them_suggested,
    health_reports_database,
    walk_ticket_through_every_status,
    created_ticket_reads_back_identically,
    illegal_transition_answers_409_naming_from_and_to,
    customer_cannot_take_staff_actions,
    agent_of_other_department_cannot_read_or_change_ticket,
    coordinating_department_sees_ticket,
    agent_keeps_seeing_a_ticket_they_logged_for_another_department,
    customer_sees_only_own_tickets_and_public_entries,
    idempotent_retry_returns_same_ticket,
    concurrent_retries_with_one_key_make_one_ticket,
    concurrent_creation_produces_unique_numbers,
    bad_input_is_refused_and_nothing_stored,
    metacharacters_are_stored_verbatim,
    listing_filters_and_cursor_pagination,
    routing_by_matrix_and_manual_reassignment,
    duplicate_links_to_master,
    appeal_only_within_seven_days,
    session_login_needs_csrf_header_for_changes,
    tokens_can_be_revoked,
    unauthenticated_requests_get_401,
    openapi_document_matches_the_router,
    triage_routes_and_raises_urgent_tickets,
    triage_never_overrides_people_and_defers_when_unsure,
    repeated_reports_become_duplicates_of_the_open_ticket,
    administrators_keyword_rules_override_the_model,
    webhook_messages_of_one_thread_become_one_ticket,
    webhook_with_bad_signature_or_stale_timestamp_is_refused,
    webhook_redelivery_changes_nothing,
    webhook_thread_of_a_closed_ticket_opens_a_linked_one,
    web_form_speaks_the_readers_language_and_refuses_posts_without_its_csrf_token,
    web_form_shows_field_errors_and_keeps_the_input,
    web_form_ticket_is_followed_through_its_private_link,
    webhook_concurrent_first_messages_make_one_ticket,
    only_admins_manage_webhook_sources,
    webhook_and_login_endpoints_answer_429_over_the_limit,
    urgent_complaint_is_p1_with_first_response_due_within_30_minutes,
    unanswered_ticket_breaches_on_time_and_escalates_once,
    ticket_answered_in_time_never_escalates,
    waiting_on_the_user_pauses_the_clocks,
    escalation_reassigns_and_the_backlog_counts_it,
    mail_over_http_opens_threads_ignores_and_quarantines,
    quarantined_mail_is_retried_after_a_fix,
    acknowledgements_are_marked_limited_and_never_loop,
    imap_batch_with_bad_messages_is_filed_once_across_restarts,
    real_shaped_mail_gets_the_right_outcome_and_only_people_are_answered,
    concurrent_deliveries_of_one_mail_file_it_once,
    widget_posts_only_from_the_sites_origins,
);
