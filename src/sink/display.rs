//! Display sinks: `--sink ssd1306:...`, `st7789:...`, `ili9341:...` and
//! `fb:...` open a panel of [`crate::display`] and draw each frame's
//! persons on it from the panel's own thread ([`DisplaySink`], whose
//! one-frame mailbox is the sink's only queue).

use super::{Sink, SinkError};
use crate::display::screen::DisplaySink;
use crate::display::{framebuffer, ssd1306, st7789};
use crate::frame::{Frame, FrameResult, RecordMeta};
use crate::spec::Spec;

/// Opens the display a spec of kind `ssd1306`, `st7789`, `ili9341` or `fb`
/// names.
pub fn open(spec: &mut Spec) -> Result<DisplaySink, SinkError> {
    Ok(match spec.kind.as_deref() {
        Some("ssd1306") => ssd1306::open(spec)?,
        Some("st7789") => st7789::open(spec, st7789::Controller::St7789)?,
        Some("ili9341") => st7789::open(spec, st7789::Controller::Ili9341)?,
        Some("fb") => framebuffer::open(spec)?,
        _ => {
            return Err(SinkError::UnknownKind {
                spec: spec.text.clone(),
                expected: super::KINDS,
            })
        }
    })
}

impl Sink for DisplaySink {
    fn emit(
        &mut self,
        _frame: &Frame<'_>,
        result: &FrameResult,
        meta: &RecordMeta,
    ) -> Result<(), SinkError> {
        self.show(result, meta);
        Ok(())
    }

    /// Waits until the newest frame is on the panel (or given up on).
    fn flush(&mut self) -> Result<(), SinkError> {
        self.settle();
        Ok(())
    }

    fn summary(&self) -> Option<String> {
        Some(self.report())
    }

    fn name(&self) -> String {
        "display".into()
    }

    fn own_queue(&self) -> bool {
        true
    }

    /// Frames replaced in the one-frame mailbox before the panel drew them.
    fn dropped(&self) -> Option<u64> {
        Some(self.stats().skipped)
    }
}
