//! Colours from smooth values, and the PNG encoding.

use std::f64::consts::TAU;

/// RGB of a smooth value `nu`; pixels with `nu >= max_iter` (the set) are black.
///
/// The hue cycles with `log(1 + nu)`, so the bands stay readable from 50 to 100 000
/// iterations; a cosine palette (phase-shifted per channel) keeps it continuous.
pub fn colour(nu: f32, max_iter: u32) -> [u8; 3] {
    if nu >= max_iter as f32 {
        return [0, 0, 0];
    }
    let t = (1.0 + f64::from(nu.max(0.0))).ln() * 0.9;
    let channel = |phase: f64, amp: f64| -> u8 {
        let value = 0.5 + amp * (TAU * (t + phase)).cos();
        (value.clamp(0.0, 1.0) * 255.0).round() as u8
    };
    // Fade in from dark blue near the outside of the image.
    let fade = (f64::from(nu) / 3.0).clamp(0.15, 1.0);
    let [r, g, b] = [channel(0.0, 0.5), channel(0.15, 0.45), channel(0.3, 0.5)];
    [
        (f64::from(r) * fade) as u8,
        (f64::from(g) * fade) as u8,
        (f64::from(b) * fade).max(40.0) as u8,
    ]
}

/// A `width` × `height` RGB PNG of `smooth` (row-major, first row on top).
pub fn encode_png(smooth: &[f32], width: u32, height: u32, max_iter: u32) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(smooth.len() * 3);
    for &nu in smooth {
        rgb.extend_from_slice(&colour(nu, max_iter));
    }
    let mut out = Vec::with_capacity(rgb.len() / 4 + 1024);
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    // Writing into a Vec of the right size cannot fail.
    let mut writer = encoder.write_header().expect("PNG header");
    writer.write_image_data(&rgb).expect("PNG data");
    writer.finish().expect("PNG end");
    out
}
