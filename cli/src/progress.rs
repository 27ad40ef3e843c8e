//! Progress of a long copy on stderr: a bar on a terminal, a line every
//! 10% in a log.

/// Progress on stderr. On a terminal, a bar (a counter when the total is
/// unknown); otherwise, with `log`, a line every 10%, and nothing without.
pub struct Progress {
    what: &'static str,
    total: Option<u64>,
    bar: Option<indicatif::ProgressBar>,
    log: bool,
    last_tenth: Option<u64>,
}

impl Progress {
    pub fn new(what: &'static str, total: Option<u64>, log: bool) -> Progress {
        use std::io::IsTerminal;
        let bar = std::io::stderr().is_terminal().then(|| {
            let (bar, template) = match total {
                Some(total) => (
                    indicatif::ProgressBar::new(total),
                    "{msg} [{bar:25}] {percent:>3}%  {human_pos} / {human_len} entries  {per_sec}",
                ),
                None => (
                    indicatif::ProgressBar::no_length(),
                    "{msg} {spinner} {human_pos} entries  {per_sec}",
                ),
            };
            let style = indicatif::ProgressStyle::with_template(template)
                .expect("a valid template")
                .progress_chars("#> ");
            bar.with_style(style).with_message(what)
        });
        Progress {
            what,
            total,
            bar,
            log,
            last_tenth: None,
        }
    }

    pub fn set(&mut self, done: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
            return;
        }
        let Some(total) = self.total.filter(|_| self.log) else {
            return;
        };
        let percent = (done * 100).checked_div(total).unwrap_or(100);
        // Logs get a line every 10%, not a line per page.
        if self.last_tenth != Some(percent / 10) {
            self.last_tenth = Some(percent / 10);
            eprintln!("{}: {percent}%  {done} / {total} entries", self.what);
        }
    }

    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish();
        }
    }
}
