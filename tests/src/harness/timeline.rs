//! A readable timeline of what happened, for the demo.

use std::time::Instant;

/// Prints steps with the time since the start.
pub struct Timeline {
    start: Instant,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline::new()
    }
}

impl Timeline {
    /// Starts the clock.
    pub fn new() -> Self {
        Timeline {
            start: Instant::now(),
        }
    }

    /// A chapter heading: one function's story.
    pub fn chapter(&self, title: &str) {
        println!("\n== {title} ==");
    }

    /// One step: who did what.
    pub fn step(&self, actor: &str, text: impl std::fmt::Display) {
        println!(
            "[{:>6.2}s] {actor:<22} {text}",
            self.start.elapsed().as_secs_f64()
        );
    }

    /// An indented detail line under the last step.
    pub fn detail(&self, text: impl std::fmt::Display) {
        println!("{:>33}{text}", "");
    }
}
