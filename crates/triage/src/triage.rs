//! The entry point: [`Triage::analyse`] runs every step on one ticket.

use std::sync::Arc;

use closedloop_domain::{Category, ImpactScope, Nature, Priority, RoutingMatrix, Title};
use serde::{Deserialize, Serialize};

use crate::TriageError;
use crate::config::TriageConfig;
use crate::dedup::DuplicateIndex;
use crate::features;
use crate::keywords::KeywordExtractor;
use crate::linear::{LinearModel, TrainOptions};
use crate::matcher::PhraseMatcher;
use crate::pairs::{PairScorer, PairText};
use crate::scope::ScopeDetector;
use crate::seed;
use crate::sentiment::Lexicon;
use crate::text::{Folded, Language, Nlp};
use crate::urgency::UrgencyDetector;
use crate::verdict::*;

/// The trained parts, serialisable as one blob.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Models {
    pub category: LinearModel,
    pub nature: LinearModel,
    pub pairs: PairScorer,
}

impl Models {
    /// Trains the built-in models on the embedded bilingual seed set (a few tens of ms).
    pub fn seed(nlp: &Nlp) -> Result<Self, TriageError> {
        let examples = seed::examples()?;
        let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
        let docs = crate::eval::featurise(nlp, &texts);
        let opts = seed_options();
        let cats: Vec<String> = examples.iter().map(|e| e.category.to_string()).collect();
        let natures: Vec<String> = examples.iter().map(|e| e.nature.to_string()).collect();
        Ok(Self {
            category: LinearModel::train(&docs, &cats, &opts, &mut |_, _| {})?,
            nature: LinearModel::train(&docs, &natures, &opts, &mut |_, _| {})?,
            pairs: PairScorer::untrained(),
        })
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>, TriageError> {
        let parts = (
            self.category.to_bytes()?,
            self.nature.to_bytes()?,
            self.pairs.to_bytes()?,
        );
        postcard::to_stdvec(&parts).map_err(|e| TriageError::Model(e.to_string()))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TriageError> {
        let (c, n, p): (Vec<u8>, Vec<u8>, Vec<u8>) =
            postcard::from_bytes(bytes).map_err(|e| TriageError::Model(e.to_string()))?;
        Ok(Self {
            category: LinearModel::from_bytes(&c)?,
            nature: LinearModel::from_bytes(&n)?,
            pairs: PairScorer::from_bytes(&p)?,
        })
    }
}

/// Options for the small seed set: every example counts, C a little higher.
pub fn seed_options() -> TrainOptions {
    TrainOptions {
        c: 1.0,
        min_df: 1,
        calibration_holdout: 0.2,
        ..TrainOptions::default()
    }
}

struct Inner {
    nlp: Arc<Nlp>,
    config: TriageConfig,
    models: Models,
    category_labels: Vec<Category>,
    nature_labels: Vec<Nature>,
    category_rules: PhraseMatcher<usize>,
    nature_rules: PhraseMatcher<Nature>,
    urgency: UrgencyDetector,
    scope: ScopeDetector,
    lexicon: Lexicon,
    keywords: KeywordExtractor,
}

/// Cheap to clone (one `Arc`), `Send + Sync`; build a new one to change models or config and
/// swap it in.
#[derive(Clone)]
pub struct Triage {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Triage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Triage")
            .field("categories", &self.inner.category_labels)
            .finish_non_exhaustive()
    }
}

impl Triage {
    /// Default configuration and the seed-trained models.
    pub fn new() -> Result<Self, TriageError> {
        let nlp = Arc::new(Nlp::new()?);
        let models = Models::seed(&nlp)?;
        Self::from_parts(nlp, TriageConfig::default(), models)
    }

    /// Builds from loaded dictionaries, a configuration and trained models. Reuse the `Nlp` of
    /// a running instance ([`Triage::nlp_handle`]) to avoid reloading dictionaries on a swap.
    pub fn from_parts(
        nlp: Arc<Nlp>,
        config: TriageConfig,
        models: Models,
    ) -> Result<Self, TriageError> {
        let category_labels = models
            .category
            .labels()
            .iter()
            .map(|l| Category::parse("category", l))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TriageError::Model(format!("category model label: {e}")))?;
        if category_labels.is_empty() {
            return Err(TriageError::Model("category model has no labels".into()));
        }
        let nature_labels = models
            .nature
            .labels()
            .iter()
            .map(|l| l.parse::<Nature>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TriageError::Model(format!("nature model label: {e}")))?;
        let category_rules = PhraseMatcher::new(
            &nlp,
            config
                .category_rules
                .iter()
                .enumerate()
                .flat_map(|(i, r)| r.keywords.iter().map(move |k| (i, k.clone()))),
        )?;
        let nature_rules = PhraseMatcher::new(
            &nlp,
            config
                .nature_rules
                .iter()
                .flat_map(|r| r.keywords.iter().map(move |k| (r.nature, k.clone()))),
        )?;
        let urgency = UrgencyDetector::new(&nlp, &config.urgency_phrases)?;
        let scope = ScopeDetector::new(&nlp)?;
        Ok(Self {
            inner: Arc::new(Inner {
                category_rules,
                nature_rules,
                urgency,
                scope,
                lexicon: Lexicon::builtin(),
                keywords: KeywordExtractor::new(),
                category_labels,
                nature_labels,
                config,
                models,
                nlp,
            }),
        })
    }

    /// The same dictionaries with another configuration or models (for hot swaps).
    pub fn with(&self, config: TriageConfig, models: Models) -> Result<Self, TriageError> {
        Self::from_parts(self.inner.nlp.clone(), config, models)
    }

    pub fn nlp(&self) -> &Nlp {
        &self.inner.nlp
    }

    pub fn nlp_handle(&self) -> Arc<Nlp> {
        self.inner.nlp.clone()
    }

    pub fn config(&self) -> &TriageConfig {
        &self.inner.config
    }

    pub fn models(&self) -> &Models {
        &self.inner.models
    }

    /// Everything about one ticket. Never fails: empty or odd text gives a low-confidence
    /// verdict with `needs_review`.
    pub fn analyse(&self, ticket: TicketText<'_>) -> Verdict {
        let inner = &*self.inner;
        let nlp = &*inner.nlp;
        let cfg = &inner.config;
        // Nothing past this many bytes can be analysed (see MAX_ANALYSED_CHARS); cutting here
        // keeps a 100 KB paste as cheap as a long ticket, title making included.
        let cut = crate::text::MAX_ANALYSED_CHARS * 4;
        let input_cut = ticket.description.len() > cut;
        let ticket = TicketText {
            title: ticket.title.map(|t| prefix(t, 1024)),
            description: prefix(ticket.description, cut),
        };
        let user_title = ticket.title.map(str::trim).filter(|t| !t.is_empty());
        let (title, title_generated) = match user_title {
            Some(t) => (t.to_owned(), false),
            None => (
                Title::from_description(ticket.description).into_string(),
                true,
            ),
        };
        // Title and description are analysed together; offsets are mapped back per field.
        let title_len =
            user_title.map_or(0, |t| ticket.title.map_or(0, |raw| raw.len()).max(t.len()));
        let combined = match ticket.title {
            Some(raw) if user_title.is_some() => format!("{raw}\n{}", ticket.description),
            _ => ticket.description.to_owned(),
        };
        let folded = nlp.fold(&combined);
        let ev = |start: usize, end: usize, matched: &str| -> Option<Evidence> {
            let (a, b) = folded.original_range(start, end)?;
            let (field, a2, b2) = if user_title.is_some() && a < title_len {
                (Field::Title, a, b.min(title_len))
            } else if user_title.is_some() {
                (
                    Field::Description,
                    a.saturating_sub(title_len + 1),
                    b.saturating_sub(title_len + 1),
                )
            } else {
                (Field::Description, a, b)
            };
            Some(Evidence {
                field,
                start: a2,
                end: b2,
                text: combined.get(a..b)?.to_owned(),
                matched: matched.to_owned(),
            })
        };
        let mut reasons = Vec::new();
        let truncated = folded.truncated || input_cut;
        if truncated {
            reasons.push(Reason::new(
                "text_truncated",
                Some(crate::text::MAX_ANALYSED_CHARS.to_string()),
                None,
            ));
        }
        let empty = folded.language == Language::None;
        if empty {
            reasons.push(Reason::new("empty_text", None, None));
        }

        let tokens = nlp.tokens(&folded.folded);
        let mut feats = Vec::new();
        features::extract_from(&folded.folded, &tokens, &mut feats);

        // Category: model, then rules.
        let probs = inner.models.category.predict_proba(&feats);
        let mut order: Vec<usize> = (0..probs.len()).collect();
        order.sort_by(|a, b| probs[*b].total_cmp(&probs[*a]));
        let top = order.first().copied().unwrap_or(0);
        let alternatives: Vec<Scored<Category>> = order
            .iter()
            .take(3)
            .filter_map(|&i| {
                Some(Scored {
                    value: inner.category_labels.get(i)?.clone(),
                    probability: probs[i],
                })
            })
            .collect();
        let rule_hits: Vec<_> = inner
            .category_rules
            .find(&folded)
            .into_iter()
            .filter(|m| !m.negated)
            .collect();
        let mut category_verdict =
            self.category_from(&probs, top, &rule_hits, &folded, &ev, &mut reasons);
        category_verdict.alternatives = alternatives;

        // Nature: model probabilities, plus weight from nature rules and the category's usual
        // nature.
        let nature_verdict =
            self.nature_from(&feats, &folded, &category_verdict.category, &mut reasons);

        let needs_review = empty
            || (category_verdict.source == Source::Model
                && category_verdict.confidence < cfg.review_threshold);
        if needs_review && !empty {
            reasons.push(Reason::new(
                "low_confidence",
                Some(format!("{:.2}", category_verdict.confidence)),
                None,
            ));
        }

        // Urgency, sentiment, scope.
        let urgent: Vec<UrgentFlag> = inner
            .urgency
            .detect(&folded)
            .into_iter()
            .filter_map(|h| {
                Some(UrgentFlag {
                    kind: h.kind,
                    evidence: ev(h.m.start, h.m.end, &h.m.phrase)?,
                })
            })
            .collect();
        let sentiment = inner.lexicon.analyse_tokens(&folded, &tokens);
        let impact_match = inner.scope.detect(&folded);
        let impact = ImpactHint {
            scope: impact_match
                .as_ref()
                .map_or(ImpactScope::OneUser, |m| m.tag),
            evidence: impact_match
                .as_ref()
                .and_then(|m| ev(m.start, m.end, &m.phrase)),
        };

        // Priority.
        let mut priority = match nature_verdict.nature {
            Nature::Suggestion | Nature::Consultation => Priority::P3,
            Nature::Problem | Nature::Complaint => Priority::P2,
        };
        for f in &urgent {
            reasons.push(Reason::new(f.kind.code(), None, Some(f.evidence.clone())));
            priority = Priority::P1;
        }
        if sentiment.emotions.anger >= cfg.anger_threshold {
            let strongest = sentiment
                .hits
                .iter()
                .filter(|h| h.emotion == Some(crate::sentiment::Emotion::Anger))
                .max_by(|a, b| a.valence.abs().total_cmp(&b.valence.abs()));
            reasons.push(Reason::new(
                "anger_high",
                Some(format!("{:.2}", sentiment.emotions.anger)),
                strongest.and_then(|h| ev(h.start, h.end, &h.word)),
            ));
            priority = priority.raised();
        }
        match impact.scope {
            ImpactScope::AllUsers => {
                reasons.push(Reason::new(
                    "impact_all_users",
                    None,
                    impact.evidence.clone(),
                ));
                if cfg.raise_on_all_users {
                    priority = priority.raised();
                }
            }
            ImpactScope::SomeUsers => {
                reasons.push(Reason::new(
                    "impact_some_users",
                    None,
                    impact.evidence.clone(),
                ));
            }
            ImpactScope::OneUser => {}
        }
        reasons.push(Reason::new("priority", Some(priority.to_string()), None));

        let keywords = inner.keywords.extract(nlp, &folded, cfg.keywords_top_k);
        Verdict {
            title,
            title_generated,
            language: folded.language,
            category: category_verdict,
            nature: nature_verdict,
            needs_review,
            priority,
            urgent,
            sentiment: SentimentVerdict {
                score: sentiment.score,
                emotions: sentiment.emotions,
            },
            impact,
            keywords,
            truncated,
            reasons,
        }
    }

    fn category_from(
        &self,
        probs: &[f32],
        top: usize,
        rule_hits: &[crate::matcher::PhraseMatch<usize>],
        folded: &Folded,
        ev: &dyn Fn(usize, usize, &str) -> Option<Evidence>,
        reasons: &mut Vec<Reason>,
    ) -> CategoryVerdict {
        let inner = &*self.inner;
        let labels = &inner.category_labels;
        let model_cat = labels[top.min(labels.len() - 1)].clone();
        let prob_of = |c: &Category| labels.iter().position(|l| l == c).map_or(0.0, |i| probs[i]);
        // Score each rule by the characters its phrases cover.
        let mut scores: Vec<(usize, usize, usize)> = Vec::new(); // (rule, chars, first hit)
        for (k, m) in rule_hits.iter().enumerate() {
            let chars = folded.folded[m.start..m.end].chars().count();
            match scores.iter_mut().find(|s| s.0 == m.tag) {
                Some(s) => s.1 += chars,
                None => scores.push((m.tag, chars, k)),
            }
        }
        let rules = &inner.config.category_rules;
        let agreeing = scores
            .iter()
            .find(|s| rules.get(s.0).is_some_and(|r| r.category == model_cat));
        let best_rule = scores
            .iter()
            .filter_map(|s| Some((rules.get(s.0)?, s)))
            .max_by_key(|(_, s)| (s.1, usize::MAX - s.2));
        let (chosen, source, hit) = match (agreeing, best_rule) {
            (Some(a), _) => (model_cat, Source::ModelAndRule, Some(a.2)),
            (None, Some((r, b))) => (r.category.clone(), Source::Rule, Some(b.2)),
            (None, None) => (model_cat, Source::Model, None),
        };
        let model_p = prob_of(&chosen);
        let confidence = match source {
            Source::Model => model_p,
            // A rule is an administrator's decision: at least as sure as the review threshold.
            Source::Rule | Source::ModelAndRule => {
                model_p.max(inner.config.review_threshold.max(0.9))
            }
        };
        match (source, hit.and_then(|k| rule_hits.get(k))) {
            (Source::Model, _) | (_, None) => reasons.push(Reason::new(
                "category_model",
                Some(format!("{chosen} {model_p:.2}")),
                None,
            )),
            (s, Some(m)) => reasons.push(Reason::new(
                if s == Source::Rule {
                    "category_rule"
                } else {
                    "category_model_and_rule"
                },
                Some(format!("{chosen} {model_p:.2}")),
                ev(m.start, m.end, &m.phrase),
            )),
        }
        CategoryVerdict {
            category: chosen,
            confidence,
            source,
            alternatives: Vec::new(),
        }
    }

    fn nature_from(
        &self,
        feats: &[(u32, f32)],
        folded: &Folded,
        category: &Category,
        reasons: &mut Vec<Reason>,
    ) -> NatureVerdict {
        let inner = &*self.inner;
        let labels = &inner.nature_labels;
        let mut p = inner.models.nature.predict_proba(feats);
        let mut ruled = false;
        let mut seen: Vec<Nature> = Vec::new();
        for m in inner.nature_rules.find(folded) {
            if m.negated || seen.contains(&m.tag) {
                continue;
            }
            seen.push(m.tag);
            if let Some(i) = labels.iter().position(|l| *l == m.tag) {
                p[i] += 0.35;
                ruled = true;
            }
        }
        if let Some(rule) = RoutingMatrix::rule(category)
            && let Some(i) = labels.iter().position(|l| *l == rule.nature)
        {
            p[i] += 0.15;
        }
        let sum: f32 = p.iter().sum();
        if sum > 0.0 {
            for v in &mut p {
                *v /= sum;
            }
        }
        let best = (0..p.len())
            .max_by(|a, b| p[*a].total_cmp(&p[*b]))
            .unwrap_or(0);
        let nature = labels.get(best).copied().unwrap_or(Nature::Problem);
        let source = if ruled && seen.contains(&nature) {
            Source::ModelAndRule
        } else {
            Source::Model
        };
        reasons.push(Reason::new(
            "nature",
            Some(format!(
                "{nature} {:.2}",
                p.get(best).copied().unwrap_or(0.0)
            )),
            None,
        ));
        NatureVerdict {
            nature,
            confidence: p.get(best).copied().unwrap_or(0.0),
            source,
        }
    }

    /// What hot-issue analysis needs of a ticket, without the rest of the verdict: its
    /// keywords (folded, best first) and its sentiment score (−1 … +1).
    pub fn terms(&self, ticket: TicketText<'_>) -> (Vec<String>, f32) {
        let inner = &*self.inner;
        let text = joined(TicketText {
            title: ticket.title.map(|t| prefix(t, 1024)),
            description: prefix(ticket.description, crate::text::MAX_ANALYSED_CHARS * 4),
        });
        let folded = inner.nlp.fold(&text);
        let tokens = inner.nlp.tokens(&folded.folded);
        let sentiment = inner.lexicon.analyse_tokens(&folded, &tokens);
        let keywords = inner
            .keywords
            .extract(&inner.nlp, &folded, inner.config.keywords_top_k)
            .into_iter()
            .map(|k| k.text)
            .collect();
        (keywords, sentiment.score)
    }

    /// Probability that two texts ask the same thing, by the current pair scorer.
    pub fn score_pair(&self, a: &str, b: &str) -> f32 {
        self.inner.models.pairs.score(&self.inner.nlp, a, b)
    }

    /// Adds a ticket to a duplicate index (title and description together).
    pub fn index_ticket(
        &self,
        index: &mut DuplicateIndex,
        id: u64,
        ticket: TicketText<'_>,
    ) -> bool {
        index.insert(&self.inner.nlp, id, &joined(ticket))
    }

    /// Duplicate candidates for a ticket: the index proposes, the pair scorer confirms using
    /// the candidates' texts from `fetch` (a candidate whose text is unavailable keeps its
    /// similarity as score).
    pub fn find_duplicates(
        &self,
        index: &DuplicateIndex,
        ticket: TicketText<'_>,
        k: usize,
        fetch: &dyn Fn(u64) -> Option<String>,
    ) -> Vec<DuplicateMatch> {
        let text = joined(ticket);
        let nlp = &*self.inner.nlp;
        let scorer = &self.inner.models.pairs;
        // A few more than asked for, since the pair scorer may reorder them.
        let candidates = index.query(nlp, &text, k.saturating_mul(2).max(k));
        let me = PairText::new(nlp, &text);
        let mut out: Vec<DuplicateMatch> = candidates
            .into_iter()
            .map(|c| {
                let (score, threshold) = match fetch(c.id) {
                    Some(other) => (
                        scorer.score_prepared(&me, &PairText::new(nlp, &other)),
                        scorer.threshold(),
                    ),
                    None => (c.similarity, 0.6),
                };
                DuplicateMatch {
                    id: c.id,
                    similarity: c.similarity,
                    score,
                    duplicate: score >= threshold,
                }
            })
            .collect();
        out.sort_by(|a, b| b.score.total_cmp(&a.score).then(b.id.cmp(&a.id)));
        out.truncate(k);
        out
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a char boundary.
fn prefix(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn joined(t: TicketText<'_>) -> String {
    match t.title.map(str::trim).filter(|s| !s.is_empty()) {
        Some(title) => format!("{title}\n{}", t.description),
        None => t.description.to_owned(),
    }
}
