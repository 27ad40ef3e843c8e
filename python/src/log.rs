//! The host's log in Python's `logging`: each event of the runtime (a
//! driver's output line by line, a refused endpoint, a trap) goes to the
//! logger named after its target (`privdata.driver`, `privdata.network`,
//! ...), so that it lands in manila-share's log with the service's own
//! handlers and levels.

use pyo3::prelude::*;
use std::fmt::Write;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// The message and fields of one event, as one line.
#[derive(Default)]
struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

struct PythonLogging;

impl<S: Subscriber> Layer<S> for PythonLogging {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let level = match *event.metadata().level() {
            Level::ERROR => 40,
            Level::WARN => 30,
            Level::INFO => 20,
            Level::DEBUG => 10,
            Level::TRACE => 5,
        };
        let target = event.metadata().target();
        let name = if target.starts_with("privdata") {
            target.replace("::", ".").replace('_', "-")
        } else {
            format!("privdata.{}", target.replace("::", "."))
        };
        Python::attach(|py| {
            let logged = (|| -> PyResult<()> {
                let logger = py.import("logging")?.call_method1("getLogger", (name,))?;
                if logger.call_method1("isEnabledFor", (level,))?.extract()? {
                    let mut line = Line::default();
                    event.record(&mut line);
                    logger.call_method1("log", (level, "%s", line.0))?;
                }
                Ok(())
            })();
            if let Err(e) = logged {
                e.print(py);
            }
        });
    }
}

/// Send the host's log to Python's `logging` (once per process; a
/// subscriber set before stays).
pub(crate) fn install() {
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(PythonLogging));
}
