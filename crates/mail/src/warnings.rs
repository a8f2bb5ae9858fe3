/// Warnings collected while parsing one message, each said once.
#[derive(Debug, Default)]
pub(crate) struct Warnings(Vec<String>);

impl Warnings {
    pub(crate) fn push(&mut self, warning: impl Into<String>) {
        let warning = warning.into();
        if !self.0.contains(&warning) && self.0.len() < 32 {
            self.0.push(warning);
        }
    }

    pub(crate) fn into_vec(self) -> Vec<String> {
        self.0
    }
}
