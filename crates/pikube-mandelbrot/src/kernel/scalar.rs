//! The plain scalar definition: the reference every other kernel is tested against.

/// Where an orbit stopped: the escape-time count and, for an escaped orbit, `z` at that step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Escape {
    /// The first `n` with `|z_n|² > 4`, or `max_iter` if there is none below `max_iter`.
    pub count: u32,
    /// Real part of `z_count` (meaningful when `count < max_iter`).
    pub zr: f64,
    /// Imaginary part of `z_count`.
    pub zi: f64,
}

/// The escape-time count of `c = cr + i·ci`, one iteration at a time.
///
/// `z_0 = 0`, `z_{n+1} = z_n² + c` computed as `zr' = (zr·zr − zi·zi) + cr` and
/// `zi' = (2·zr)·zi + ci` in plain (unfused) f64 arithmetic; the count is the first `n` with
/// `zr² + zi² > 4`, capped at `max_iter`.
pub fn escape(cr: f64, ci: f64, max_iter: u32) -> Escape {
    let (mut zr, mut zi) = (0.0f64, 0.0f64);
    for n in 0..max_iter {
        let tr = zr * zr;
        let ti = zi * zi;
        if tr + ti > 4.0 {
            return Escape { count: n, zr, zi };
        }
        zi = (zr + zr) * zi + ci;
        zr = tr - ti + cr;
    }
    Escape {
        count: max_iter,
        zr,
        zi,
    }
}

/// [`escape`]'s count alone.
pub fn escape_count(cr: f64, ci: f64, max_iter: u32) -> u32 {
    escape(cr, ci, max_iter).count
}
