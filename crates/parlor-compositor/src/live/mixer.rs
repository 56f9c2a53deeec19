//! The mixer: one thread on a steady clock at the broadcast's frame rate. Each tick it
//! composes the canvas (black, then every placed source's latest picture in drawing
//! order) and mixes `48000/fps` audio samples (the remainder carried exactly: tick `n`
//! takes `⌊(n+1)·48000/fps⌋ − ⌊n·48000/fps⌋`, so the audio rate is exactly 48 kHz), and
//! hands both to the encoder's writer threads.
//!
//! Buffers come from two small pools (a free list and a full queue per medium): the
//! mixer composes straight into a free buffer and the writer gives it back once
//! written, so nothing is allocated per tick. A tick whose video or audio buffer is not
//! free (the encoder is behind or restarting) is dropped **for both media** and counted:
//! the encoder's inputs are timed by their position (frame count, sample count), so
//! audio and video stay in step; the clock never blocks.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, Sender, SyncSender};
use std::time::{Duration, Instant};

use super::proc::{Signal, lock};
use super::source::SourceShared;
use super::{Counters, SceneShared};
use crate::layout::Rect;

/// Video frames in flight between the mixer and the encoder.
pub(crate) const VIDEO_POOL: usize = 3;
/// Audio ticks in flight between the mixer and the encoder.
pub(crate) const AUDIO_POOL: usize = 8;
/// Behind by more than this, the clock skips ahead instead of catching up.
const MAX_LAG: Duration = Duration::from_secs(1);
/// Samples per second.
const RATE: u64 = 48_000;

/// One side of a buffer pool: the mixer's (full queue in, free list out) or the
/// writer's (full queue out, free list in).
pub(crate) struct PoolEnd<T> {
    pub full: SyncSender<T>,
    pub free: Receiver<T>,
}

/// The writer's side of a pool.
pub(crate) struct WriterEnd<T> {
    pub full: Receiver<T>,
    pub free: Sender<T>,
}

/// A pool of `n` buffers made by `make`: the mixer's end and the writer's end.
pub(crate) fn pool<T>(n: usize, make: impl Fn() -> T) -> (PoolEnd<T>, WriterEnd<T>) {
    let (full_tx, full_rx) = std::sync::mpsc::sync_channel(n);
    let (free_tx, free_rx) = std::sync::mpsc::channel();
    for _ in 0..n {
        let _ = free_tx.send(make());
    }
    (
        PoolEnd {
            full: full_tx,
            free: free_rx,
        },
        WriterEnd {
            full: full_rx,
            free: free_tx,
        },
    )
}

/// Samples (per channel) of tick `n` at `fps`.
pub(crate) fn samples_of_tick(n: u64, fps: u32) -> usize {
    let fps = u64::from(fps);
    ((n + 1) * RATE / fps - n * RATE / fps) as usize
}

/// `r` with its edges rounded to even pixels (yuv420p chroma is 2×2) and clipped to
/// a `w`×`h` canvas; `None` if less than 2×2 is left.
pub(crate) fn even_rect(r: Rect, w: u32, h: u32) -> Option<Rect> {
    let e = |v: u32| v.saturating_add(1) & !1;
    let (x0, y0) = (e(r.x).min(w), e(r.y).min(h));
    let (x1, y1) = (
        e(r.x.saturating_add(r.w)).min(w),
        e(r.y.saturating_add(r.h)).min(h),
    );
    (x1 >= x0 + 2 && y1 >= y0 + 2).then(|| Rect::new(x0, y0, x1 - x0, y1 - y0))
}

/// Fills a yuv420p canvas with black (BT.601 limited range: Y 16, U/V 128).
pub(crate) fn fill_black(buf: &mut [u8], w: u32, h: u32) {
    let luma = (w * h) as usize;
    buf[..luma].fill(16);
    buf[luma..].fill(128);
}

/// Copies a `rect.w`×`rect.h` yuv420p picture into the canvas at `rect` (even, inside).
pub(crate) fn blit(canvas: &mut [u8], cw: u32, ch: u32, pic: &[u8], rect: Rect) {
    let (cw, ch) = (cw as usize, ch as usize);
    let (x, y, w, h) = (
        rect.x as usize,
        rect.y as usize,
        rect.w as usize,
        rect.h as usize,
    );
    let (pcw, pch) = (w.div_ceil(2), h.div_ceil(2));
    let (ccw, cch) = (cw / 2, ch / 2);
    if x + w > cw || y + h > ch || pic.len() < w * h + 2 * pcw * pch {
        return;
    }
    for row in 0..h {
        let d = (y + row) * cw + x;
        canvas[d..d + w].copy_from_slice(&pic[row * w..row * w + w]);
    }
    for plane in 0..2 {
        let src = w * h + plane * pcw * pch;
        let dst = cw * ch + plane * ccw * cch;
        for row in 0..h / 2 {
            let d = dst + (y / 2 + row) * ccw + x / 2;
            let s = src + row * pcw;
            canvas[d..d + w / 2].copy_from_slice(&pic[s..s + w / 2]);
        }
    }
}

/// The mixer thread's state.
pub(crate) struct Mixer {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub video: Option<PoolEnd<Box<[u8]>>>,
    pub audio: Option<PoolEnd<Vec<u8>>>,
    pub scene: Arc<SceneShared>,
    pub counters: Arc<Counters>,
    /// Tick instants of frames sent, for the encoder-latency figure.
    pub sent_at: Arc<std::sync::Mutex<VecDeque<Instant>>>,
    pub stop: Arc<Signal>,
}

/// The mixer's per-tick scratch, reused.
struct Scratch {
    generation: u64,
    draw: Vec<(Arc<SourceShared>, Rect)>,
    audible: Vec<Arc<SourceShared>>,
    acc: Vec<i32>,
    video: Option<Box<[u8]>>,
    audio: Option<Vec<u8>>,
}

impl Mixer {
    /// The thread's body: ticks until `stop`.
    pub(crate) fn run(self) {
        let start = Instant::now();
        let fps = u64::from(self.fps);
        let mut s = Scratch {
            generation: u64::MAX,
            draw: Vec::new(),
            audible: Vec::new(),
            acc: vec![0; 2 * (RATE / fps + 1) as usize],
            video: None,
            audio: None,
        };
        let mut n: u64 = 0;
        let mut base = start;
        let mut base_tick = 0;
        loop {
            let due = base + Duration::from_nanos((n - base_tick) * 1_000_000_000 / fps);
            if self.stop.wait_until(due) {
                return;
            }
            let late = Instant::now().saturating_duration_since(due);
            if late > MAX_LAG {
                // The thread was starved: skip the lost ticks rather than burst them.
                let skipped = late.as_nanos() as u64 * fps / 1_000_000_000;
                self.counters
                    .frames_dropped
                    .fetch_add(skipped, Ordering::Relaxed);
                n += skipped;
                base = Instant::now();
                base_tick = n;
                tracing::warn!(skipped, "live mixer fell behind; ticks skipped");
            }
            self.tick(n, &mut s);
            n += 1;
        }
    }

    fn tick(&self, n: u64, s: &mut Scratch) {
        let generation = self.scene.generation.load(Ordering::Acquire);
        if generation != s.generation {
            s.generation = generation;
            self.scene
                .draw_list(self.width, self.height, &mut s.draw, &mut s.audible);
        }
        if s.video.is_none() {
            s.video = self.video.as_ref().and_then(|p| p.free.try_recv().ok());
        }
        if s.audio.is_none() {
            s.audio = self.audio.as_ref().and_then(|p| p.free.try_recv().ok());
        }
        // Audio is read every tick, sent or not, so the rings stay in real time.
        let samples = samples_of_tick(n, self.fps);
        let acc = &mut s.acc[..2 * samples];
        acc.fill(0);
        if self.audio.is_some() {
            for src in &s.audible {
                lock(&src.audio).mix_into(acc);
            }
        }
        let ready = (self.video.is_none() || s.video.is_some())
            && (self.audio.is_none() || s.audio.is_some());
        if !ready {
            self.counters.frames_dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if let (Some(pool), Some(mut buf)) = (&self.video, s.video.take()) {
            fill_black(&mut buf, self.width, self.height);
            for (src, rect) in &s.draw {
                let p = lock(&src.picture);
                if (p.w, p.h) == (rect.w, rect.h) {
                    blit(&mut buf, self.width, self.height, &p.data, *rect);
                }
            }
            {
                let mut q = lock(&self.sent_at);
                if q.len() == 256 {
                    q.pop_front();
                }
                q.push_back(Instant::now());
            }
            if let Err(e) = pool.full.try_send(buf) {
                s.video = Some(match e {
                    std::sync::mpsc::TrySendError::Full(b)
                    | std::sync::mpsc::TrySendError::Disconnected(b) => b,
                });
            }
        }
        if let (Some(pool), Some(mut buf)) = (&self.audio, s.audio.take()) {
            buf.clear();
            for &a in acc.iter() {
                let v = a.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16;
                buf.extend_from_slice(&v.to_le_bytes());
            }
            if let Err(e) = pool.full.try_send(buf) {
                s.audio = Some(match e {
                    std::sync::mpsc::TrySendError::Full(b)
                    | std::sync::mpsc::TrySendError::Disconnected(b) => b,
                });
            }
        }
        self.counters.frames_sent.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_ticks_add_up_to_exactly_48k() {
        for fps in [1, 7, 15, 24, 25, 29, 30, 60] {
            let total: usize = (0..u64::from(fps)).map(|n| samples_of_tick(n, fps)).sum();
            assert_eq!(total, 48_000, "fps {fps}");
            let total: usize = (0..u64::from(fps) * 3)
                .map(|n| samples_of_tick(n, fps))
                .sum();
            assert_eq!(total, 144_000, "fps {fps}");
        }
    }

    #[test]
    fn rects_snap_to_even_pixels_inside_the_canvas() {
        assert_eq!(
            even_rect(Rect::new(213, 0, 214, 360), 640, 360),
            Some(Rect::new(214, 0, 214, 360))
        );
        assert_eq!(
            even_rect(Rect::new(600, 350, 100, 100), 640, 360),
            Some(Rect::new(600, 350, 40, 10))
        );
        assert_eq!(
            even_rect(Rect::new(10, 10, 1, 1), 640, 360),
            Some(Rect::new(10, 10, 2, 2))
        );
        assert_eq!(even_rect(Rect::new(11, 11, 1, 1), 640, 360), None);
        assert_eq!(even_rect(Rect::new(639, 0, 1, 10), 640, 360), None);
    }

    #[test]
    fn blit_places_planes() {
        let (cw, ch) = (8u32, 4u32);
        let mut canvas = vec![0u8; 8 * 4 * 3 / 2];
        fill_black(&mut canvas, cw, ch);
        assert_eq!(canvas[0], 16);
        assert_eq!(canvas[32], 128);
        // A 4×2 picture: Y 200, U 50, V 60, at (2, 2).
        let mut pic = vec![200u8; 8];
        pic.extend([50, 50, 60, 60]);
        blit(&mut canvas, cw, ch, &pic, Rect::new(2, 2, 4, 2));
        for y in 0..4 {
            for x in 0..8 {
                let inside = (2..6).contains(&x) && (2..4).contains(&y);
                assert_eq!(
                    canvas[y * 8 + x],
                    if inside { 200 } else { 16 },
                    "({x},{y})"
                );
            }
        }
        // Chroma planes are 4×2: the picture covers (1..3, 1).
        let u = &canvas[32..40];
        let v = &canvas[40..48];
        assert_eq!(u, &[128, 128, 128, 128, 128, 50, 50, 128]);
        assert_eq!(v, &[128, 128, 128, 128, 128, 60, 60, 128]);
    }
}
