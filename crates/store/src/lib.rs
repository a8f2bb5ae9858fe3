//! Persistence for Closedloop behind one trait, [`Store`].
//!
//! One implementation, [`SqlStore`], serves SQLite and PostgreSQL through sqlx's `Any` driver:
//! the queries are shared text, and the few places where the two differ (row locks, ILIKE,
//! migrations) go through [`sql::Dialect`]. Sharing the text means both backends have the same
//! behaviour by construction, and the one behavioural suite proves it on both.

pub mod canned;
mod clock;
pub mod closing;
mod error;
pub mod knowledge;
pub mod mail;
pub mod metrics;
pub mod model;
pub mod privacy;
pub mod search;
pub mod sql;
pub mod terms;
pub mod web;
pub mod webhook;
pub mod widget;

pub use canned::*;
pub use clock::{Clock, FixedClock, SystemClock};
pub use closing::*;
pub use error::{Result, StoreError};
pub use knowledge::*;
pub use mail::*;
pub use metrics::*;
pub use model::*;
pub use privacy::*;
pub use search::*;
pub use sql::sla::FireReport;
pub use sql::{ConnectOptions, SqlStore};
pub use terms::*;
pub use web::*;
pub use webhook::*;
pub use widget::*;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use closedloop_domain::TicketNumber;

/// Everything the service asks of its database. Every method that takes a [`Principal`] applies
/// that principal's access scope inside its queries: a ticket outside the scope is "not found".
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The backend is reachable and answers.
    async fn ping(&self) -> Result<()>;

    // --- people and organisation ---
    async fn create_user(&self, user: NewUser) -> Result<User>;
    async fn list_users(&self) -> Result<Vec<User>>;
    /// Staff only (every role but customer), active or not.
    async fn list_staff(&self) -> Result<Vec<User>>;
    /// Activates or deactivates an account; a deactivated user's sessions and tokens stop
    /// resolving at once, and their history stays.
    async fn set_user_active(&self, user_id: i64, active: bool) -> Result<User>;
    /// Active administrators; the first one is made at start when there is none.
    async fn count_admins(&self) -> Result<i64>;
    /// The user and their password hash, for logging in.
    async fn user_credentials(&self, email: &str) -> Result<Option<(User, Option<String>)>>;
    async fn principal(&self, user_id: i64) -> Result<Option<Principal>>;
    /// Until when failed sign-ins lock this account, if they do now.
    async fn login_locked_until(&self, user_id: i64) -> Result<Option<DateTime<Utc>>>;
    /// Counts a failed sign-in; the `max_failures`-th in a row locks the account for
    /// `lock_for`, and the answer is then until when.
    async fn record_login_failure(
        &self,
        user_id: i64,
        max_failures: u32,
        lock_for: chrono::Duration,
    ) -> Result<Option<DateTime<Utc>>>;
    /// A successful sign-in clears the count.
    async fn record_login_success(&self, user_id: i64) -> Result<()>;
    async fn create_department(&self, code: &str, name: &str, name_zh: &str) -> Result<Department>;
    async fn list_departments(&self) -> Result<Vec<Department>>;
    async fn list_categories(&self) -> Result<Vec<CategoryRoute>>;

    // --- credentials ---
    async fn create_api_token(
        &self,
        user_id: i64,
        name: &str,
        token_hash: &str,
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
        scope: TokenScope,
    ) -> Result<ApiToken>;
    async fn list_api_tokens(&self, user_id: i64) -> Result<Vec<ApiToken>>;
    async fn revoke_api_token(&self, user_id: i64, token_id: i64) -> Result<()>;
    /// The principal a live token acts as, and what the token may do.
    async fn principal_by_token(&self, token_hash: &str)
    -> Result<Option<(Principal, TokenScope)>>;
    async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        csrf_token: &str,
        ttl: chrono::Duration,
    ) -> Result<()>;
    /// The principal and the session's CSRF token.
    async fn principal_by_session(&self, token_hash: &str) -> Result<Option<(Principal, String)>>;
    async fn delete_session(&self, token_hash: &str) -> Result<()>;

    // --- tickets ---
    /// Registers a ticket and routes it. With an idempotency key, a retry of the same request
    /// returns the ticket made the first time (`false` = not newly created).
    async fn create_ticket(
        &self,
        actor: &Principal,
        ticket: NewTicket,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<(Ticket, bool)>;
    async fn get_ticket(&self, actor: &Principal, number: &TicketNumber) -> Result<Ticket>;
    /// The originals of a ticket's masked fields, within the actor's scope; the reveal is
    /// written to the access log in the same transaction. Whether the actor's role may reveal
    /// at all is the caller's configuration.
    async fn reveal_personal_data(
        &self,
        actor: &Principal,
        number: &TicketNumber,
    ) -> Result<Vec<RevealedField>>;
    /// The kinds of personal data masked in a ticket (empty: nothing was).
    async fn personal_kinds(&self, ticket_id: i64) -> Result<Vec<String>>;
    /// Records that a staff member opened a ticket (repeated views within minutes are one).
    async fn log_view(&self, actor: &Principal, ticket_id: i64) -> Result<()>;
    /// The access log, newest first (administrators; the caller checks).
    async fn access_log(&self, filter: &AccessFilter) -> Result<Vec<AccessEntry>>;
    /// Records a request to erase a customer's data, due `within` from now; asking again while
    /// one is open returns it (`false` = not new). Staff accounts are refused.
    async fn request_erasure(
        &self,
        user_id: i64,
        requested_by: i64,
        within: chrono::Duration,
    ) -> Result<(ErasureRequest, bool)>;
    /// Erasure requests, newest first, of one user or of all.
    async fn erasure_requests(
        &self,
        user_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<ErasureRequest>>;
    /// Claims the open request due first for `lease` (none while another worker holds it),
    /// with the attachment files to remove before completing it.
    async fn claim_erasure(&self, lease: chrono::Duration) -> Result<Option<ErasureWork>>;
    /// Erases the person's data in one transaction and records the request done; the files to
    /// delete then.
    async fn complete_erasure(&self, request_id: i64) -> Result<ErasedFiles>;
    /// Open requests past their deadline not yet reported; administrators get an in-app
    /// notification for each, once.
    async fn overdue_erasures(&self) -> Result<Vec<ErasureRequest>>;
    /// Appends to the security log (`id` is ignored).
    async fn record_security_event(&self, event: &SecurityEvent) -> Result<()>;
    /// The security log, newest first, of one caller or of all.
    async fn security_events(
        &self,
        actor_id: Option<i64>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<SecurityEvent>>;
    /// Sets a user's password hash and ends their sessions but `keep_session` (a digest).
    async fn set_password(
        &self,
        user_id: i64,
        hash: &str,
        keep_session: Option<&str>,
    ) -> Result<()>;
    /// A user's second factor (read from the primary: it was perhaps just set up).
    async fn totp(&self, user_id: i64) -> Result<TotpState>;
    async fn set_totp(&self, user_id: i64, change: TotpChange) -> Result<()>;
    /// Records that a code of time step `step` was used; `false` when that step or a later one
    /// already was (a code is good once).
    async fn use_totp_step(&self, user_id: i64, step: i64) -> Result<bool>;
    /// The translation worker's next tickets: where its cursor is, and up to `limit` tickets
    /// after it (id, title, description).
    async fn translation_batch(&self, limit: i64) -> Result<(i64, Vec<(i64, String, String)>)>;
    /// Moves the cursor from `from` to `to`; `false` when another instance moved it first.
    async fn advance_translation_cursor(&self, from: i64, to: i64) -> Result<bool>;
    /// Keeps a translation of `source` (a second one of the same field and language is
    /// ignored, and so is one whose field no longer says `source`).
    async fn save_translation(
        &self,
        ticket_id: i64,
        field: &str,
        source: &str,
        lang: &str,
        text: &str,
    ) -> Result<()>;
    /// A ticket's translations, within the actor's scope.
    async fn translations(
        &self,
        actor: &Principal,
        number: &TicketNumber,
    ) -> Result<Vec<Translation>>;
    /// How many purges (completed erasures, retention batches) have run: search indexes
    /// rewrite their files when it grows.
    async fn purges(&self) -> Result<i64>;
    /// Retention: anonymises up to `limit` tickets closed before `before` (texts without
    /// personal data, personal fields emptied, attachments deleted; the rows statistics count
    /// stay); how many, and the attachment files (digests) no ticket holds any more.
    async fn anonymise_closed(
        &self,
        before: DateTime<Utc>,
        limit: i64,
    ) -> Result<(usize, Vec<String>)>;
    async fn list_tickets(&self, actor: &Principal, filter: &TicketFilter) -> Result<Page<Ticket>>;
    async fn update_ticket(
        &self,
        actor: &Principal,
        number: &TicketNumber,
        patch: TicketPatch,
    ) -> Result<Ticket>;
    async fn transition(
        &self,
        actor: &Principal,
        number: &TicketNumber,
        request: TransitionRequest,
    ) -> Result<Ticket>;
    /// A reply or note; a reply may bring files (already stored), recorded as evidence.
    async fn add_entry(
        &self,
        actor: &Principal,
        number: &TicketNumber,
        public: bool,
        body: &str,
        files: &[NewAttachment],
    ) -> Result<TimelineEntry>;

    // --- SLA clocks ---
    /// Every clock of the ticket as of now, derived from its history.
    async fn ticket_clocks(
        &self,
        actor: &Principal,
        number: &TicketNumber,
    ) -> Result<Vec<closedloop_domain::sla::ClockState>>;
    /// Acts on up to `limit` due SLA moments (warnings, breaches, escalation steps), each once.
    async fn fire_due(&self, limit: u32) -> Result<FireReport>;
    /// Re-plans the clocks of up to `limit` open tickets after `after_id`; (count, last id).
    async fn replan_open(&self, after_id: i64, limit: u32) -> Result<(usize, Option<i64>)>;
    /// Open, overdue and stuck (unchanged since `stuck_before`) tickets per department, within
    /// the actor's scope.
    async fn backlog(
        &self,
        actor: &Principal,
        stuck_before: DateTime<Utc>,
    ) -> Result<Vec<BacklogRow>>;
    /// The newest notifications for a user, newest first.
    async fn notifications(&self, user_id: i64, limit: u32) -> Result<Vec<Notification>>;
    async fn timeline(
        &self,
        actor: &Principal,
        number: &TicketNumber,
    ) -> Result<Vec<TimelineEntry>>;

    // --- bulk ---
    /// Writes pre-made tickets without routing, for seeding and imports, in one transaction.
    /// Tickets whose `import_key` was written before are skipped, so an import can be re-run.
    async fn bulk_insert(&self, tickets: &[BulkTicket]) -> Result<BulkOutcome>;

    // --- duplicate detection ---
    /// Open tickets created since `since` with ids after `after_id`, in id order, for the
    /// duplicate index: (id, created_at, description).
    async fn open_ticket_texts(
        &self,
        after_id: i64,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(i64, DateTime<Utc>, String)>>;
    /// Those of `ids` still open: (id, number, description).
    async fn open_tickets_by_id(&self, ids: &[i64]) -> Result<Vec<(i64, TicketNumber, String)>>;

    // --- knowledge base ---
    /// Any staff member saves a draft; supervisors and administrators publish.
    async fn create_article(&self, actor: &Principal, input: &ArticleInput) -> Result<Article>;
    async fn update_article(
        &self,
        actor: &Principal,
        id: i64,
        input: &ArticleInput,
    ) -> Result<Article>;
    /// Staff see every article; anyone else (or nobody signed in) a published FAQ only.
    async fn article(&self, viewer: Option<&Principal>, id: i64) -> Result<Article>;
    async fn articles(
        &self,
        viewer: Option<&Principal>,
        filter: &ArticleFilter,
    ) -> Result<Vec<Article>>;
    /// A draft FAQ from a resolved or closed ticket: its question and what answered it.
    async fn draft_article_from_ticket(
        &self,
        actor: &Principal,
        number: &TicketNumber,
    ) -> Result<Article>;
    /// Article revisions after `after_seq` (`ticket_id` holds the article id).
    async fn article_feed(&self, after_seq: i64, limit: u32) -> Result<Vec<FeedChange>>;
    async fn article_feed_head(&self) -> Result<i64>;
    /// Those of `seqs` that exist now (gaps the cursor asks for again).
    async fn article_feed_at(&self, seqs: &[i64]) -> Result<Vec<FeedChange>>;
    async fn article_documents(&self, ids: &[i64]) -> Result<Vec<ArticleDocument>>;
    /// One event of a visit to the feedback form, once per visit and event.
    async fn record_deflection(
        &self,
        visit: &str,
        event: DeflectionEvent,
        article_id: Option<i64>,
    ) -> Result<()>;
    async fn deflection_report(&self, since: DateTime<Utc>) -> Result<DeflectionReport>;

    /// One row per ticket registered in `[from, to)` within the actor's scope, for reports.
    async fn report_rows(
        &self,
        actor: &Principal,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<closedloop_domain::report::Row>>;
    /// Reads the report facts of up to `limit` tickets written since they were last read;
    /// returns how many it took (fewer than `limit`: caught up). Reports are exact without it,
    /// only slower while many tickets wait.
    async fn refresh_facts(&self, limit: u32) -> Result<usize>;

    // --- hot issues ---
    /// Tickets whose keywords and sentiment are not read yet, oldest first.
    async fn pending_terms(&self, limit: u32) -> Result<Vec<PendingTerms>>;
    /// Stores what triage read, in one transaction; a ticket already done is left as it is.
    async fn save_terms(&self, terms: &[Terms]) -> Result<()>;
    /// Tickets registered in `[from, to)` within the actor's scope whose keywords are read.
    async fn hot_docs(
        &self,
        actor: &Principal,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<closedloop_domain::hot::Doc>>;
    /// Tickets per category in each of `weeks` weeks from `from`, within the actor's scope.
    async fn weekly_counts(
        &self,
        actor: &Principal,
        from: DateTime<Utc>,
        weeks: u32,
    ) -> Result<Vec<closedloop_domain::hot::Series>>;

    /// Installation-wide counts for `/metrics`.
    async fn metrics(&self) -> Result<MetricsSnapshot>;

    // --- search index ---
    /// Changes after `after_seq` in sequence order, at most `limit`. The feed is the timeline:
    /// every write to a ticket appends to it in the same transaction.
    async fn search_feed(&self, after_seq: i64, limit: u32) -> Result<Vec<FeedChange>>;
    /// Those of `seqs` that exist now (gaps the cursor asks for again).
    async fn search_feed_at(&self, seqs: &[i64]) -> Result<Vec<FeedChange>>;
    /// The newest sequence number of the feed (0 when empty).
    async fn search_feed_head(&self) -> Result<i64>;
    /// These tickets as the index holds them (unscoped: the index applies scope per query).
    async fn ticket_documents(&self, ids: &[i64]) -> Result<Vec<TicketDocument>>;
    /// Up to `limit` documents with ids after `after_id`, in id order, for a rebuild.
    async fn ticket_documents_after(
        &self,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<TicketDocument>>;
    async fn count_tickets(&self) -> Result<i64>;
    /// Those of `ids` the actor may see, in no particular order.
    async fn tickets_by_id(&self, actor: &Principal, ids: &[i64]) -> Result<Vec<Ticket>>;

    // --- triage learning ---
    /// Agents' corrections of one kind (`category`, `priority`, `duplicate`): (label, text).
    async fn triage_examples(&self, kind: &str) -> Result<Vec<(String, String)>>;
    /// Stores a retrained model (base64) with its report (JSON); returns its version.
    async fn save_triage_model(&self, model: &str, report: &str) -> Result<i64>;
    /// The newest model if it is newer than version `than`.
    async fn newer_triage_model(&self, than: i64) -> Result<Option<(i64, String)>>;
    /// Tickets created since `since`, by id after `after_id`, for re-classification.
    async fn triage_candidates(
        &self,
        since: chrono::DateTime<chrono::Utc>,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<TriageCandidate>>;
    /// Sets a new category (re-routed) on a ticket still `received`; false when it was left.
    async fn reclassify(
        &self,
        ticket_id: i64,
        category: &closedloop_domain::Category,
        verdict: &str,
    ) -> Result<bool>;

    // --- mail intake ---
    /// Threads the message onto the ticket it answers when its sender may add to that ticket,
    /// otherwise opens a ticket; auto-generated mail opens nothing. A message seen before is
    /// answered as it was, writing nothing.
    async fn ingest_mail(&self, mail: InboundMail) -> Result<MailOutcome>;
    /// Records a message that could not be read, with the reason.
    async fn quarantine_mail(
        &self,
        message_id: &str,
        from: &str,
        reason: &str,
        path: &str,
    ) -> Result<()>;
    /// Drops the quarantine record of a message that has since been read under its own
    /// Message-ID (a retry after a fix); a record that is no longer quarantined stays.
    async fn forget_quarantined(&self, message_id: &str) -> Result<()>;
    /// The intake log, newest first.
    async fn mail_log(&self, filter: MailLogFilter) -> Result<Vec<MailLogEntry>>;
    /// Every message counted by direction, path, outcome and rule.
    async fn mail_counts(&self) -> Result<Vec<MailCount>>;

    // --- closing the loop ---
    /// Claims up to `limit` due notices, each for `lease` (another instance takes it over if
    /// this one has not reported by then). E-mail ones without a Message-ID get one from
    /// `message_id`, fixed before the first attempt.
    async fn claim_notices(
        &self,
        limit: u32,
        lease: chrono::Duration,
        message_id: crate::MessageIds,
    ) -> Result<Vec<NoticeItem>>;
    /// Delivered, with what was sent; e-mail is logged as outbound mail (replies to its
    /// Message-ID then thread onto its ticket).
    async fn notice_sent(&self, id: i64, subject: &str, body: &str) -> Result<()>;
    /// Delivery failed: try again at `retry_at`, or never when `None`.
    async fn notice_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<()>;
    /// A customer's portal messages, newest first.
    async fn customer_messages(&self, user_id: i64, limit: u32) -> Result<Vec<CustomerMessage>>;
    async fn mark_message_read(&self, user_id: i64, id: i64) -> Result<()>;
    /// Every notice of a ticket and how its delivery went (staff).
    async fn ticket_notices(
        &self,
        actor: &Principal,
        number: &TicketNumber,
    ) -> Result<Vec<NoticeRecord>>;
    /// Administrators' versions of the built-in templates.
    async fn templates(&self) -> Result<Vec<TemplateOverride>>;
    async fn save_template(&self, actor_id: i64, template: &TemplateOverride) -> Result<()>;
    /// Back to the built-in template.
    async fn delete_template(
        &self,
        event: closedloop_domain::notice::Event,
        lang: closedloop_domain::notice::Lang,
        channel: closedloop_domain::notice::NoticeChannel,
    ) -> Result<()>;
    /// An installation-wide value, set to `initial` by whichever instance asks first.
    async fn setting(&self, key: &str, initial: &str) -> Result<String>;
    /// Records a solution and moves the ticket to `solution_proposed`; whether it needs
    /// approval follows the loop policy.
    async fn propose_solution(
        &self,
        actor: &Principal,
        number: &TicketNumber,
        solution: NewSolution,
    ) -> Result<(Ticket, Solution)>;
    async fn solutions(&self, actor: &Principal, number: &TicketNumber) -> Result<Vec<Solution>>;
    /// A supervisor (never the proposer) approves — the ticket is resolved and the user told —
    /// or rejects with a note — the ticket goes back to work.
    async fn decide_solution(
        &self,
        actor: &Principal,
        number: &TicketNumber,
        solution_id: i64,
        approve: bool,
        note: Option<String>,
    ) -> Result<(Ticket, Solution)>;
    /// Solutions waiting for approval within the actor's scope, oldest first.
    async fn pending_approvals(&self, actor: &Principal) -> Result<Vec<Solution>>;
    /// Hands an appeal's review to an administrator not involved before.
    async fn escalate_appeal(
        &self,
        actor: &Principal,
        number: &TicketNumber,
        reason: &str,
    ) -> Result<Ticket>;
    async fn appeals(&self, actor: &Principal, number: &TicketNumber) -> Result<Vec<Appeal>>;
    /// A ticket as the holder of its signed link sees it.
    async fn link_view(&self, ticket_id: i64) -> Result<LinkView>;
    /// Acts for the ticket's requester on the authority of a signed link.
    async fn link_action(&self, ticket_id: i64, action: LinkAction) -> Result<Ticket>;
    /// The requester's satisfaction answer, once; a low one reopens handling (policy).
    async fn answer_survey(
        &self,
        actor: &Principal,
        number: &TicketNumber,
        stars: u8,
        comment: Option<String>,
    ) -> Result<Ticket>;
    async fn survey(
        &self,
        actor: &Principal,
        number: &TicketNumber,
    ) -> Result<Option<SurveyAnswer>>;
    /// Closes up to `limit` tickets resolved before `before` and never answered.
    async fn auto_close(&self, before: DateTime<Utc>, limit: u32) -> Result<usize>;
    /// Asks the NPS question of `percent` % (sampled by `seed`) of the customers with a ticket
    /// closed since `closed_since` who were not asked since `not_asked_since`; how many.
    async fn queue_nps(
        &self,
        percent: u8,
        closed_since: DateTime<Utc>,
        not_asked_since: DateTime<Utc>,
        seed: i64,
        limit: u32,
    ) -> Result<usize>;
    /// Whether NPS question `id` was answered (not found when unknown).
    async fn nps_answered(&self, id: i64) -> Result<bool>;
    /// The answer to NPS question `id`, once.
    async fn answer_nps(&self, id: i64, score: u8, comment: Option<String>) -> Result<()>;
    async fn nps_report(&self, since: DateTime<Utc>) -> Result<NpsReport>;
    /// Takes the periodic job `key` when its last run is `every` old; one instance wins.
    async fn claim_run(&self, key: &str, every: chrono::Duration) -> Result<bool>;
    async fn preferences(&self, user_id: i64) -> Result<Preferences>;
    async fn set_preferences(&self, user_id: i64, preferences: &Preferences) -> Result<()>;

    // --- canned responses ---
    /// Those the actor may use: shared ones and their departments' (admins: all).
    async fn canned_responses(&self, actor: &Principal) -> Result<Vec<CannedResponse>>;
    async fn add_canned_response(
        &self,
        actor: &Principal,
        new: NewCannedResponse,
    ) -> Result<CannedResponse>;
    async fn delete_canned_response(&self, actor: &Principal, id: i64) -> Result<()>;

    // --- feedback widget ---
    /// Adds a site; `site_key` is made by the caller (random, public).
    async fn create_widget_site(
        &self,
        name: &str,
        site_key: &str,
        origins: &[String],
    ) -> Result<WidgetSite>;
    async fn list_widget_sites(&self) -> Result<Vec<WidgetSite>>;
    /// The site with this key, active or not.
    async fn widget_site(&self, site_key: &str) -> Result<Option<WidgetSite>>;

    // --- signed webhook intake ---
    /// Adds a source and its service account (`webhook+NAME@closedloop.local`).
    async fn create_webhook_source(&self, source: NewWebhookSource) -> Result<WebhookSource>;
    async fn list_webhook_sources(&self) -> Result<Vec<WebhookSource>>;
    /// An active source by name, with its secret; `None` when unknown or inactive.
    async fn webhook_credentials(&self, name: &str) -> Result<Option<WebhookCredentials>>;
    /// Opens the thread's ticket or adds the message to it; a message id seen before is
    /// answered as it was, writing nothing.
    async fn webhook_intake(
        &self,
        source: &WebhookCredentials,
        message: WebhookMessage,
    ) -> Result<WebhookOutcome>;

    // --- public web form ---
    /// Registers a ticket from the public form with its follow link's digest and its files.
    async fn create_web_ticket(&self, submission: WebSubmission) -> Result<Ticket>;
    /// The ticket behind a follow link's digest.
    async fn ticket_by_link(&self, link_hash: &str) -> Result<Option<Ticket>>;
    /// A ticket's public entries only (what its requester may see).
    async fn public_timeline(&self, ticket_id: i64) -> Result<Vec<TimelineEntry>>;
    /// A public reply by the ticket's requester (anonymous for an anonymous ticket).
    async fn reply_by_link(&self, ticket_id: i64, body: &str) -> Result<TimelineEntry>;
    /// The files of one ticket.
    async fn attachments(&self, ticket_id: i64) -> Result<Vec<Attachment>>;
}

/// A stored ticket as re-classification reads it.
#[derive(Debug, Clone)]
pub struct TriageCandidate {
    pub id: i64,
    pub number: TicketNumber,
    pub title: String,
    pub description: String,
    pub category: Option<closedloop_domain::Category>,
    pub status: closedloop_domain::Status,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// A client-chosen key that makes ticket creation safe to retry, with a digest of the request
/// so a key reused for a different request is refused instead of silently answered.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    pub key: String,
    pub request_hash: String,
}

/// A ticket for [`Store::bulk_insert`]: numbered by the store from the same per-day counters
/// as live tickets, so no number is ever handed out twice.
#[derive(Debug, Clone)]
pub struct BulkTicket {
    pub channel: closedloop_domain::Channel,
    pub title: String,
    pub description: String,
    pub category: Option<String>,
    pub nature: Option<closedloop_domain::Nature>,
    pub priority: closedloop_domain::Priority,
    pub severity: closedloop_domain::Severity,
    pub impact_scope: closedloop_domain::ImpactScope,
    pub department: Option<String>,
    pub status: closedloop_domain::Status,
    /// The customer account with this address is used, or made.
    pub requester_email: Option<String>,
    pub order_number: Option<String>,
    pub region: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub resolved_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The record's identity in its source; `None` imports unconditionally (seeding).
    pub import_key: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BulkOutcome {
    pub inserted: u64,
    /// Already imported by an earlier run (or twice in this batch).
    pub skipped: u64,
}
