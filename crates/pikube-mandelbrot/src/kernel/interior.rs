//! Closed-form interior tests: the main cardioid and the period-2 bulb never escape.

/// Margin that keeps points within about 1e-12 of either boundary out of the shortcut, so that
/// rounding in the test itself can never claim a point that the iteration would let escape.
const MARGIN: f64 = 1e-12;

/// Whether `c` lies inside the main cardioid or the period-2 bulb (with a safety margin).
#[inline]
pub fn is_interior(cr: f64, ci: f64) -> bool {
    let y2 = ci * ci;
    let xq = cr - 0.25;
    let q = xq * xq + y2;
    if q * (q + xq) < 0.25 * y2 - MARGIN {
        return true;
    }
    let xb = cr + 1.0;
    xb * xb + y2 < 0.0625 - MARGIN
}
