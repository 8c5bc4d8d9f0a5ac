//! Progress reports of [`Module::fit`](super::Module::fit) on stderr.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{EpochReport, FitOptions};
use crate::metric::EvalMetric;

/// Progress reports of `fit`: an `indicatif` bar on a terminal, plain lines otherwise.
pub(super) enum Progress {
    Off,
    Lines {
        every: usize,
    },
    Bar {
        bar: ProgressBar,
        len: Option<usize>,
    },
}

impl Progress {
    pub(super) fn new(options: &FitOptions, num_batches: Option<usize>) -> Progress {
        if !options.log {
            Progress::Off
        } else if std::io::stderr().is_terminal() {
            // Hidden until `start_epoch` has set its style (no default-style frame).
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
            Progress::Bar {
                bar,
                len: num_batches,
            }
        } else {
            Progress::Lines {
                every: options.log_every,
            }
        }
    }

    pub(super) fn start_epoch(&mut self, epoch: usize) {
        if let Progress::Bar { bar, len } = self {
            bar.reset();
            let template = match len {
                Some(n) => {
                    bar.set_length(*n as u64);
                    "Epoch[{prefix}] {bar:30.cyan/blue} {pos}/{len} [{elapsed}<{eta}] {msg}"
                }
                None => {
                    bar.unset_length();
                    "Epoch[{prefix}] {spinner} batch {pos} [{elapsed}] {msg}"
                }
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(epoch.to_string());
            bar.set_message("");
            bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    pub(super) fn batch_end(
        &mut self,
        epoch: usize,
        index: usize,
        samples: usize,
        start: Instant,
        metric: &dyn EvalMetric,
    ) {
        let speed = || samples as f64 / start.elapsed().as_secs_f64().max(f64::MIN_POSITIVE);
        match self {
            Progress::Off => {}
            Progress::Lines { every } => {
                if *every > 0 && (index + 1).is_multiple_of(*every) {
                    let (name, value) = metric.get();
                    eprintln!(
                        "Epoch[{epoch}] Batch [{}]\tSpeed: {:.2} samples/sec\t{name}={value:.6}",
                        index + 1,
                        speed()
                    );
                }
            }
            Progress::Bar { bar, .. } => {
                bar.inc(1);
                // Reading the metric waits for the batch; a redraw is at most every 10 batches.
                if (index + 1).is_multiple_of(10) {
                    let (name, value) = metric.get();
                    bar.set_message(format!("{name}={value:.4} {:.0} samples/s", speed()));
                }
            }
        }
    }

    pub(super) fn epoch_end(&mut self, report: &EpochReport) {
        let eval_text = report
            .eval_metric
            .as_ref()
            .map(|(n, v)| format!(" Validation-{n}={v:.6}"))
            .unwrap_or_default();
        let line = format!(
            "Epoch[{}] Train-{}={:.6}{eval_text} Time cost={:.3} Speed: {:.0} samples/sec",
            report.epoch,
            report.train_metric.0,
            report.train_metric.1,
            report.seconds,
            report.samples_per_sec
        );
        match self {
            Progress::Off => {}
            Progress::Lines { .. } => eprintln!("{line}"),
            Progress::Bar { bar, .. } => {
                bar.finish_and_clear();
                eprintln!("{line}");
            }
        }
    }
}
