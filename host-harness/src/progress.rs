//! Progress bars on standard error, one per address book, fed by the
//! plugin's `progress` calls: contacts done of total, rate, elapsed. Shown
//! only when standard error is a terminal; standard output never sees them.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;

pub struct Bars {
    multi: MultiProgress,
    bars: HashMap<String, ProgressBar>,
    /// folder id -> display path, from the batches
    paths: HashMap<String, String>,
}

impl Bars {
    /// Bars when standard error is a terminal, else none; `paths` are the
    /// address books' names from earlier runs.
    pub fn on_terminal(paths: HashMap<String, String>) -> Option<Bars> {
        std::io::stderr().is_terminal().then(|| Bars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: HashMap::new(),
            paths,
        })
    }

    /// The address book's display path, once a batch has told it.
    pub fn name(&mut self, folder_id: &str, path: &str) {
        if folder_id.is_empty() || self.paths.get(folder_id).is_some_and(|p| p == path) {
            return;
        }
        self.paths.insert(folder_id.to_string(), path.to_string());
        if let Some(bar) = self.bars.get(folder_id) {
            bar.set_message(path.to_string());
        }
    }

    pub fn update(&mut self, folder_id: &str, done: u64, total: u64) {
        let bar = self.bars.entry(folder_id.to_string()).or_insert_with(|| {
            let bar = self.multi.add(ProgressBar::new(total));
            let style = ProgressStyle::with_template("{msg:40!} [{bar:30}] {pos}/{len} contacts, {rate}, {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .with_key("rate", |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.0}/s", state.per_sec());
                })
                .progress_chars("=> ");
            bar.set_style(style);
            bar.set_message(self.paths.get(folder_id).cloned().unwrap_or_else(|| "(an address book)".to_string()));
            bar
        });
        bar.set_length(total.max(done));
        bar.set_position(done);
    }
}

impl Drop for Bars {
    /// The bars stay on screen as the run's last word on each book.
    fn drop(&mut self) {
        for bar in self.bars.values() {
            bar.finish();
        }
    }
}
