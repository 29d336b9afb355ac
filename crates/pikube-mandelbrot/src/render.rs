//! Rendering a request on every core.

use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::{
    cancel::Cancel,
    grid::Grid,
    kernel::Kernel,
    palette::encode_png,
    request::{Format, RenderRequest},
};

/// Pixels per rayon work item at most: enough to amortise scheduling for cheap images.
const MAX_PIXELS_PER_ITEM: usize = 4096;
/// Pixels per rayon work item at least (a multiple of every kernel's lane count).
const MIN_PIXELS_PER_ITEM: usize = 64;
/// Worst-case iterations per work item. A cancelled render stops only between items, so
/// this bounds how long it keeps the cores after its client has gone: about 2^24
/// iterations, tens of milliseconds on a Pi core, even when max_iter is in the hundreds of
/// thousands (a whole 4096-pixel item would then take minutes).
const MAX_WORK_PER_ITEM: u64 = 1 << 24;

/// The pixels of one rayon work item for `max_iter`: the kernels take any run of pixels,
/// so items need not be whole rows.
fn pixels_per_item(max_iter: u32) -> usize {
    let by_work = usize::try_from(MAX_WORK_PER_ITEM / u64::from(max_iter.max(1)))
        .unwrap_or(MAX_PIXELS_PER_ITEM);
    by_work.clamp(MIN_PIXELS_PER_ITEM, MAX_PIXELS_PER_ITEM) / MIN_PIXELS_PER_ITEM
        * MIN_PIXELS_PER_ITEM
}

/// A computed image.
#[derive(Clone, Debug)]
pub struct Rendered {
    /// Pixels per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// The iteration cap it was computed with.
    pub max_iter: u32,
    /// Escape counts, row-major, first row at `y_max`.
    pub counts: Vec<u32>,
    /// Smooth values (same layout), computed for the `smooth` and `png` formats.
    pub smooth: Option<Vec<f32>>,
    /// The kernel that computed it.
    pub kernel: Kernel,
    /// Wall-clock time of the computation (not of the encoding).
    pub elapsed: Duration,
}

impl Rendered {
    /// The iterations the image is made of: the sum of the counts.
    pub fn iterations(&self) -> u64 {
        self.counts.iter().map(|&count| u64::from(count)).sum()
    }

    /// The body of a response in `format`: little-endian `u32` counts, little-endian `f32`
    /// smooth values, or a PNG. Smooth values are derived from the counts when missing.
    pub fn encode(&self, format: Format) -> Vec<u8> {
        match format {
            Format::Counts => self.counts.iter().flat_map(|c| c.to_le_bytes()).collect(),
            Format::Smooth => self
                .smooth_or_counts()
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
            Format::Png => encode_png(
                &self.smooth_or_counts(),
                self.width,
                self.height,
                self.max_iter,
            ),
        }
    }

    fn smooth_or_counts(&self) -> std::borrow::Cow<'_, [f32]> {
        match &self.smooth {
            Some(smooth) => smooth.into(),
            None => self
                .counts
                .iter()
                .map(|&c| c as f32)
                .collect::<Vec<_>>()
                .into(),
        }
    }
}

/// Computes `request` on the rayon pool with the fastest kernel of this CPU
/// ([`Kernel::detect`]).
///
/// Blocks the calling thread until done: from async code, call it inside
/// `tokio::task::spawn_blocking`.
pub fn render(request: &RenderRequest) -> Rendered {
    render_with(request, Kernel::detect())
}

/// [`render`] with a chosen kernel.
pub fn render_with(request: &RenderRequest, kernel: Kernel) -> Rendered {
    compute(request, kernel, &|| false)
}

/// The render was given up on (see [`Cancel`]) before it finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the render was cancelled")]
pub struct Cancelled;

/// [`render_with`] that stops early once `cancel` is set: the chunks not yet started are
/// skipped, so a cancelled render frees the cores within one chunk's time.
pub fn render_cancellable(
    request: &RenderRequest,
    kernel: Kernel,
    cancel: &Cancel,
) -> Result<Rendered, Cancelled> {
    let rendered = compute(request, kernel, &|| cancel.is_cancelled());
    if cancel.is_cancelled() {
        return Err(Cancelled);
    }
    Ok(rendered)
}

fn compute(request: &RenderRequest, kernel: Kernel, stop: &(dyn Fn() -> bool + Sync)) -> Rendered {
    let started = Instant::now();
    let region = request.region();
    let (width, height) = (request.width(), request.height());
    let grid = Grid::new(
        region.x_min,
        region.x_max,
        region.y_min,
        region.y_max,
        width,
        height,
    );
    let pixels = request.pixels() as usize;
    let max_iter = request.max_iter();
    let item = pixels_per_item(max_iter);

    let mut counts = vec![0u32; pixels];
    let smooth = match request.format() {
        Format::Counts => None,
        Format::Smooth | Format::Png => {
            let mut smooth = vec![0f32; pixels];
            counts
                .par_chunks_mut(item)
                .zip(smooth.par_chunks_mut(item))
                .enumerate()
                .for_each(|(i, (counts, smooth))| {
                    if !stop() {
                        kernel.compute(&grid, i * item, max_iter, counts, Some(smooth));
                    }
                });
            Some(smooth)
        }
    };
    if smooth.is_none() {
        counts
            .par_chunks_mut(item)
            .enumerate()
            .for_each(|(i, counts)| {
                if !stop() {
                    kernel.compute(&grid, i * item, max_iter, counts, None)
                }
            });
    }
    Rendered {
        width,
        height,
        max_iter,
        counts,
        smooth,
        kernel: if kernel.is_available() {
            kernel
        } else {
            Kernel::Portable
        },
        elapsed: started.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_items_shrink_as_max_iter_grows_so_cancelling_stays_prompt() {
        assert_eq!(pixels_per_item(1), MAX_PIXELS_PER_ITEM);
        assert_eq!(pixels_per_item(1000), MAX_PIXELS_PER_ITEM);
        // 2^24 / 100 000 = 167 pixels, rounded down to whole lanes.
        assert_eq!(pixels_per_item(100_000), 128);
        assert_eq!(pixels_per_item(u32::MAX), MIN_PIXELS_PER_ITEM);
        for max_iter in [1, 7, 500, 4097, 100_000, 1 << 20, u32::MAX] {
            let item = pixels_per_item(max_iter);
            assert_eq!(item % MIN_PIXELS_PER_ITEM, 0, "{max_iter}");
            assert!(
                item as u64 * u64::from(max_iter) <= MAX_WORK_PER_ITEM
                    || item == MIN_PIXELS_PER_ITEM,
                "{max_iter}"
            );
        }
    }
}
