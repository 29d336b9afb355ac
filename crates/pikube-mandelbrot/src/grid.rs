//! From pixel to `c`: pixel centres of a region, first row at `y_max`.

/// A `width` × `height` grid of pixel centres over `[x_min, x_max] × [y_min, y_max]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Grid {
    x_min: f64,
    y_max: f64,
    dx: f64,
    dy: f64,
    width: usize,
}

impl Grid {
    /// The grid of a region; callers have validated the bounds and sizes.
    pub fn new(x_min: f64, x_max: f64, y_min: f64, y_max: f64, width: u32, height: u32) -> Grid {
        Grid {
            x_min,
            y_max,
            dx: (x_max - x_min) / f64::from(width),
            dy: (y_max - y_min) / f64::from(height),
            width: width as usize,
        }
    }

    /// `c` at column `col`, row `row` (row 0 is the top, at `y_max`).
    #[inline]
    pub fn c(&self, col: usize, row: usize) -> (f64, f64) {
        (
            self.x_min + (col as f64 + 0.5) * self.dx,
            self.y_max - (row as f64 + 0.5) * self.dy,
        )
    }

    /// `c` of the row-major pixel `index`.
    #[inline]
    pub fn c_at(&self, index: usize) -> (f64, f64) {
        self.c(index % self.width, index / self.width)
    }
}
