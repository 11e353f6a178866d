//! The encoder thread: takes the frame the frame loop left in the slot,
//! draws the persons on it with the annotator's renderer
//! ([`crate::sink::annotate::draw_scene`]) and encodes it as JPEG with
//! libjpeg-turbo, once for every client. It runs at a lower priority than
//! the frame loop, so on a busy board the preview yields to inference.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::hub::{lock, Hub, Jpeg, Pending};
use crate::sink::annotate::draw_scene;

/// Niceness of the preview's threads (the frame loop's is 0).
pub const NICE: i32 = 10;

/// Lowers the calling thread's priority (Linux: niceness is per thread).
pub fn lower_priority() {
    // SAFETY: plain system calls on the calling thread.
    unsafe {
        let tid = libc::gettid() as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, NICE);
    }
}

/// A JPEG compressor at `quality`.
pub fn compressor(quality: u8) -> Result<turbojpeg::Compressor, String> {
    let mut c = turbojpeg::Compressor::new().map_err(|e| e.to_string())?;
    c.set_quality(i32::from(quality))
        .map_err(|e| e.to_string())?;
    c.set_subsamp(turbojpeg::Subsamp::Sub2x2)
        .map_err(|e| e.to_string())?;
    Ok(c)
}

/// The encoder thread's loop, until the hub closes.
pub fn run(hub: Arc<Hub>, mut jpeg: turbojpeg::Compressor) {
    lower_priority();
    let mut work = Pending::default();
    loop {
        {
            let mut p = lock(&hub.pending);
            while !p.fresh && !hub.closing.load(Ordering::Relaxed) {
                p = hub.pending_cv.wait(p).unwrap_or_else(|e| e.into_inner());
            }
            if hub.closing.load(Ordering::Relaxed) {
                return;
            }
            std::mem::swap(&mut *p, &mut work);
            p.fresh = false;
        }
        let t0 = Instant::now();
        let Some(skeleton) = hub.skeleton.get() else {
            continue;
        };
        let (w, h) = (work.scene.width, work.scene.height);
        if !draw_scene(&mut work.pixels, &work.scene, skeleton) {
            continue;
        }
        let image = turbojpeg::Image {
            pixels: &work.pixels[..],
            width: w as usize,
            pitch: w as usize * 3,
            height: h as usize,
            format: turbojpeg::PixelFormat::RGB,
        };
        match jpeg.compress_to_vec(image) {
            Ok(data) => {
                hub.jpeg.send_replace(Some(Jpeg {
                    data: Bytes::from(data),
                    seq: work.seq,
                    at: Instant::now(),
                }));
                hub.encoded.fetch_add(1, Ordering::Relaxed);
                hub.encode_us
                    .store(t0.elapsed().as_micros() as u64, Ordering::Relaxed);
            }
            Err(e) => log::warn!("http: cannot encode frame {}: {e}", work.seq),
        }
    }
}
