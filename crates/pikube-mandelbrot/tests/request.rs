//! Request parsing: every class of bad input is rejected and names its parameter.

use pikube_mandelbrot::{Format, Limits, Problem, RenderRequest};

const GOOD: &str = "x_min=-2&x_max=1&y_min=-1.5&y_max=1.5&width=300&height=200";

fn rejects(query: &str, parameter: &str) -> Problem {
    let error = RenderRequest::parse(query).expect_err(query);
    assert_eq!(error.parameter, parameter, "{query}: {error}");
    assert!(error.to_string().starts_with(parameter), "{error}");
    error.problem
}

fn with(replace: &str, by: &str) -> String {
    GOOD.replace(replace, by)
}

#[test]
fn a_good_request_with_defaults() {
    let request = RenderRequest::parse(GOOD).unwrap();
    assert_eq!(request.width(), 300);
    assert_eq!(request.height(), 200);
    assert_eq!(request.max_iter(), 500);
    assert_eq!(request.format(), Format::Png);
    assert_eq!(request.region().x_min, -2.0);
    let request = RenderRequest::parse(&format!("{GOOD}&max_iter=77&format=counts")).unwrap();
    assert_eq!((request.max_iter(), request.format()), (77, Format::Counts));
    let request = RenderRequest::parse(&format!("{GOOD}&format=smooth")).unwrap();
    assert_eq!(request.format(), Format::Smooth);
    // Exponents and percent-encoding.
    let request =
        RenderRequest::parse("x_min=-7.5e-1&x_max=%2D0.7&y_min=1e-3&y_max=2e-3&width=1&height=1")
            .unwrap();
    assert_eq!(request.region().x_max, -0.7);
}

#[test]
fn missing_parameters() {
    for name in ["x_min", "x_max", "y_min", "y_max", "width", "height"] {
        let query: Vec<&str> = GOOD.split('&').filter(|kv| !kv.starts_with(name)).collect();
        assert_eq!(rejects(&query.join("&"), name), Problem::Missing);
    }
    assert_eq!(rejects("", "x_min"), Problem::Missing);
}

#[test]
fn not_numbers() {
    assert!(matches!(
        rejects(&with("x_min=-2", "x_min=abc"), "x_min"),
        Problem::NotANumber(_)
    ));
    assert!(matches!(
        rejects(&with("y_max=1.5", "y_max="), "y_max"),
        Problem::NotANumber(_)
    ));
    assert!(matches!(
        rejects(&with("width=300", "width=3.5"), "width"),
        Problem::NotAnInteger(_)
    ));
    assert!(matches!(
        rejects(&format!("{GOOD}&max_iter=ten"), "max_iter"),
        Problem::NotAnInteger(_)
    ));
}

#[test]
fn nan_and_infinite_values() {
    for bad in ["NaN", "nan", "inf", "-inf", "infinity", "1e400"] {
        assert_eq!(
            rejects(&with("x_min=-2", &format!("x_min={bad}")), "x_min"),
            Problem::NotFinite
        );
        assert_eq!(
            rejects(&with("y_min=-1.5", &format!("y_min={bad}")), "y_min"),
            Problem::NotFinite
        );
    }
}

#[test]
fn empty_and_inverted_ranges() {
    assert_eq!(
        rejects(&with("x_max=1", "x_max=-2"), "x_min"),
        Problem::NotBelow("x_max")
    );
    assert_eq!(
        rejects(&with("x_max=1", "x_max=-3"), "x_min"),
        Problem::NotBelow("x_max")
    );
    assert_eq!(
        rejects(&with("y_max=1.5", "y_max=-1.5"), "y_min"),
        Problem::NotBelow("y_max")
    );
    assert_eq!(
        rejects(&with("y_max=1.5", "y_max=-2"), "y_min"),
        Problem::NotBelow("y_max")
    );
    // Spans that overflow, and spans too narrow for f64 at this resolution.
    let huge = "x_min=-1.7e308&x_max=1.7e308&y_min=-1&y_max=1&width=10&height=10";
    assert_eq!(rejects(huge, "x_max"), Problem::RangeTooLarge);
    let narrow = "x_min=1&x_max=1.0000000000000004&y_min=-1&y_max=1&width=100&height=10";
    assert_eq!(rejects(narrow, "x_max"), Problem::RangeTooNarrow);
}

#[test]
fn zero_negative_and_oversized_sizes() {
    assert_eq!(
        rejects(&with("width=300", "width=0"), "width"),
        Problem::TooSmall(1)
    );
    assert_eq!(
        rejects(&with("height=200", "height=0"), "height"),
        Problem::TooSmall(1)
    );
    assert_eq!(
        rejects(&with("height=200", "height=-5"), "height"),
        Problem::TooSmall(1)
    );
    assert_eq!(
        rejects(&with("width=300", "width=16385"), "width"),
        Problem::TooLarge(16384)
    );
    assert_eq!(
        rejects(&with("width=300", "width=99999999999"), "width"),
        Problem::TooLarge(u64::from(u32::MAX))
    );
    assert!(matches!(
        rejects(
            &with("width=300&height=200", "width=2048&height=1025"),
            "width"
        ),
        Problem::TooManyPixels {
            pixels: 2_099_200,
            max: 2_097_152
        }
    ));
    assert_eq!(
        rejects(&format!("{GOOD}&max_iter=0"), "max_iter"),
        Problem::TooSmall(1)
    );
    assert_eq!(
        rejects(&format!("{GOOD}&max_iter=100001"), "max_iter"),
        Problem::TooLarge(100_000)
    );
    assert!(matches!(
        rejects(
            &with(
                "width=300&height=200",
                "width=1024&height=1024&max_iter=2000"
            ),
            "max_iter"
        ),
        Problem::TooMuchWork { .. }
    ));
}

#[test]
fn unknown_duplicate_and_format() {
    assert_eq!(rejects(&format!("{GOOD}&xmin=3"), "xmin"), Problem::Unknown);
    assert_eq!(
        rejects(&format!("{GOOD}&width=3"), "width"),
        Problem::Duplicate
    );
    assert!(matches!(
        rejects(&format!("{GOOD}&format=jpeg"), "format"),
        Problem::UnknownFormat(f) if f == "jpeg"
    ));
}

#[test]
fn limits_are_configurable() {
    let limits = Limits {
        max_pixels: 100,
        max_side: 20,
        max_iter: 50,
        max_work: u64::MAX,
    };
    let small = "x_min=-2&x_max=1&y_min=-1&y_max=1&width=10&height=10&max_iter=50";
    assert!(RenderRequest::parse_with(small, &limits).is_ok());
    let error =
        RenderRequest::parse_with(&small.replace("height=10", "height=11"), &limits).unwrap_err();
    assert_eq!(error.parameter, "width");
    let error = RenderRequest::parse_with(&small.replace("=50", "=51"), &limits).unwrap_err();
    assert_eq!(
        (error.parameter.as_str(), error.problem),
        ("max_iter", Problem::TooLarge(50))
    );
}
