//! Iterations per second on one core: the plain scalar loop against the vector kernels.
//!
//! Region: the period-3 bulb and its surroundings, `[-0.22, -0.02] × [0.66, 0.86]`, 160 × 160,
//! max_iter 1000. Most of it is interior, and none of it is in the main cardioid or the
//! period-2 bulb, so the closed-form interior shortcut cannot help: every kernel iterates
//! every pixel and the comparison is of raw iteration speed. Throughput is counted in useful
//! iterations (the sum of the counts, the same for every kernel up to FMA rounding).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use pikube_mandelbrot::{kernel::is_interior, Grid, Kernel};

const SIDE: u32 = 160;
const MAX_ITER: u32 = 1000;

fn grid() -> Grid {
    Grid::new(-0.22, -0.02, 0.66, 0.86, SIDE, SIDE)
}

fn kernels(c: &mut Criterion) {
    let grid = grid();
    let pixels = (SIDE * SIDE) as usize;
    assert!((0..pixels).all(|i| {
        let (cr, ci) = grid.c_at(i);
        !is_interior(cr, ci)
    }));
    let mut counts = vec![0u32; pixels];
    Kernel::Scalar.compute(&grid, 0, MAX_ITER, &mut counts, None);
    let iterations: u64 = counts.iter().map(|&c| u64::from(c)).sum();
    let in_set = counts.iter().filter(|&&c| c == MAX_ITER).count();
    eprintln!(
        "{pixels} pixels, {iterations} iterations, {:.1} % in the set",
        100.0 * in_set as f64 / pixels as f64
    );

    let mut group = c.benchmark_group("kernel");
    group.throughput(Throughput::Elements(iterations));
    group.sample_size(10);
    group.warm_up_time(std::time::Duration::from_millis(500));
    group.measurement_time(std::time::Duration::from_secs(2));
    for kernel in Kernel::available() {
        group.bench_with_input(
            BenchmarkId::from_parameter(kernel),
            &kernel,
            |b, &kernel| {
                b.iter(|| {
                    kernel.compute(&grid, 0, MAX_ITER, &mut counts, None);
                    std::hint::black_box(&counts);
                });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, kernels);
criterion_main!(benches);
