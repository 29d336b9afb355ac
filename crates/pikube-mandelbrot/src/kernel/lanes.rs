//! The lane driver shared by every vector kernel.
//!
//! `W` independent pixels are iterated together in blocks of [`BLOCK`] iterations with no
//! branches inside a block; each lane only records the largest `|z|²` it saw. After a block,
//! lanes whose maximum exceeded 4 are replayed in scalar code (in the same arithmetic, from the
//! state saved before the block) to find the exact escape step and `z` there, and a finished
//! lane is refilled with the next pixel at once, so no lane idles while its neighbours run on.

use super::{interior::is_interior, Job};
use crate::smooth::smooth_value;

/// Iterations per block between escape checks.
pub(crate) const BLOCK: u32 = 8;

/// The state of `W` lanes, laid out for aligned vector loads.
#[repr(C, align(64))]
#[derive(Clone, Copy)]
pub(crate) struct Lanes<const W: usize> {
    pub zr: [f64; W],
    pub zi: [f64; W],
    pub cr: [f64; W],
    pub ci: [f64; W],
}

/// One vector backend.
pub(crate) trait Backend<const W: usize> {
    /// Runs [`BLOCK`] iterations on every lane. Returns a bit mask of the lanes where
    /// `zr² + zi² > 4` (or was not a number) at one of the `BLOCK` checked steps.
    fn block(&self, lanes: &mut Lanes<W>) -> u32;

    /// Replays up to `steps` iterations of one lane from `(zr, zi)` in exactly the arithmetic
    /// of [`Backend::block`]: the offset of the first step with `|z|² > 4` and `z` there.
    fn replay(&self, zr: f64, zi: f64, cr: f64, ci: f64, steps: u32) -> Option<(u32, f64, f64)>;
}

const IDLE: usize = usize::MAX;

/// Computes the pixels of `job` into `counts` (and `smooth`) with backend `B`.
pub(crate) fn drive<const W: usize, B: Backend<W>>(
    backend: &B,
    job: &Job,
    counts: &mut [u32],
    mut smooth: Option<&mut [f32]>,
) {
    let max_iter = job.max_iter;
    let blocks_to_cap = u64::from(max_iter.div_ceil(BLOCK));
    let mut lanes = Lanes::<W> {
        zr: [0.0; W],
        zi: [0.0; W],
        cr: [0.0; W],
        ci: [0.0; W],
    };
    let mut pixel = [IDLE; W];
    let mut started = [0u64; W];
    let mut deadline = [u64::MAX; W];
    let mut next = 0usize;
    let mut blocks = 0u64;

    // Loads the next pixel that needs iterating into `lane`; interior pixels are written out
    // on the way. Returns false when none is left.
    let mut refill = |lane: usize,
                      lanes: &mut Lanes<W>,
                      pixel: &mut [usize; W],
                      counts: &mut [u32],
                      smooth: &mut Option<&mut [f32]>,
                      blocks: u64|
     -> u64 {
        while next < counts.len() {
            let index = next;
            next += 1;
            let (cr, ci) = job.c(index);
            if is_interior(cr, ci) {
                counts[index] = max_iter;
                if let Some(smooth) = smooth.as_deref_mut() {
                    smooth[index] = max_iter as f32;
                }
                continue;
            }
            lanes.zr[lane] = 0.0;
            lanes.zi[lane] = 0.0;
            lanes.cr[lane] = cr;
            lanes.ci[lane] = ci;
            pixel[lane] = index;
            return blocks + blocks_to_cap;
        }
        lanes.zr[lane] = 0.0;
        lanes.zi[lane] = 0.0;
        lanes.cr[lane] = 0.0;
        lanes.ci[lane] = 0.0;
        pixel[lane] = IDLE;
        u64::MAX
    };

    for lane in 0..W {
        deadline[lane] = refill(lane, &mut lanes, &mut pixel, counts, &mut smooth, blocks);
        started[lane] = blocks;
    }
    let mut earliest = deadline.iter().copied().min().unwrap_or(u64::MAX);

    while pixel.iter().any(|&p| p != IDLE) {
        let before = lanes;
        let escaped = backend.block(&mut lanes);
        blocks += 1;
        if escaped == 0 && blocks < earliest {
            continue;
        }
        for lane in 0..W {
            let index = pixel[lane];
            if index == IDLE {
                continue;
            }
            let done_before = ((blocks - 1 - started[lane]) * u64::from(BLOCK)) as u32;
            let finished = if escaped & (1 << lane) != 0 {
                let (cr, ci) = (lanes.cr[lane], lanes.ci[lane]);
                match backend.replay(before.zr[lane], before.zi[lane], cr, ci, BLOCK) {
                    Some((offset, zr, zi)) => {
                        let n = done_before.saturating_add(offset);
                        if n < max_iter {
                            counts[index] = n;
                            if let Some(smooth) = smooth.as_deref_mut() {
                                smooth[index] = smooth_value(n, zr, zi, cr, ci, max_iter);
                            }
                        } else {
                            write_capped(index, max_iter, counts, &mut smooth);
                        }
                        true
                    }
                    // Unreachable when block and replay agree; never lose the pixel if not.
                    None => false,
                }
            } else {
                false
            };
            let finished = finished
                || (blocks >= deadline[lane] && {
                    write_capped(index, max_iter, counts, &mut smooth);
                    true
                });
            if finished {
                deadline[lane] = refill(lane, &mut lanes, &mut pixel, counts, &mut smooth, blocks);
                started[lane] = blocks;
            }
        }
        earliest = deadline.iter().copied().min().unwrap_or(u64::MAX);
    }
}

fn write_capped(index: usize, max_iter: u32, counts: &mut [u32], smooth: &mut Option<&mut [f32]>) {
    counts[index] = max_iter;
    if let Some(smooth) = smooth.as_deref_mut() {
        smooth[index] = max_iter as f32;
    }
}
