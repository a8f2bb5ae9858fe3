//! Counts the `/metrics` endpoint exports, read from the database so every instance reports
//! the same installation-wide numbers.

/// One labelled count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    pub labels: Vec<(&'static str, String)>,
    pub value: i64,
}

#[derive(Debug, Clone, Default)]
pub struct MetricsSnapshot {
    /// Every ticket by status.
    pub tickets: Vec<Count>,
    /// Open tickets by handling department and priority (the queues).
    pub open: Vec<Count>,
    /// Open tickets past a deadline, by department.
    pub overdue: Vec<Count>,
    /// SLA targets missed so far, by clock.
    pub breaches: Vec<Count>,
    /// Notices waiting to be delivered, by channel.
    pub notices_pending: Vec<Count>,
}
