//! Progress for long operations (seed, import, reindex, retrain).
//!
//! On a terminal it is an indicatif bar. Piped into a log (CI, cron, a benchmark script) a bar
//! draws nothing, so there it prints one plain line per tenth of the work instead.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    bar: Option<ProgressBar>,
    what: &'static str,
    total: u64,
    done: u64,
    next_line: u64,
}

impl Progress {
    /// `total` 0 means unknown: a spinner, and a plain line every 10,000.
    pub fn new(what: &'static str, total: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            if total == 0 {
                let bar = ProgressBar::new_spinner();
                bar.set_message(what);
                return bar;
            }
            let style = ProgressStyle::with_template(
                "{spinner} {msg} {pos}/{len} [{bar:30}] {per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            let bar = ProgressBar::new(total).with_style(style);
            bar.set_message(what);
            bar
        });
        Self {
            bar,
            what,
            total,
            done: 0,
            next_line: if total == 0 { 10_000 } else { total / 10 },
        }
    }

    pub fn inc(&mut self, n: u64) {
        self.done += n;
        match &self.bar {
            Some(bar) => bar.inc(n),
            None if self.done >= self.next_line && (self.total == 0 || self.done < self.total) => {
                if self.total == 0 {
                    eprintln!("{} {}", self.what, self.done);
                } else {
                    eprintln!("{} {}/{}", self.what, self.done, self.total);
                }
                self.next_line = self.done
                    + if self.total == 0 {
                        10_000
                    } else {
                        (self.total / 10).max(1)
                    };
            }
            None => {}
        }
    }

    pub fn finish(self) {
        match self.bar {
            Some(bar) => bar.finish_and_clear(),
            None if self.total == 0 => eprintln!("{} {} done", self.what, self.done),
            None => eprintln!("{} {}/{} done", self.what, self.done, self.total),
        }
    }
}
