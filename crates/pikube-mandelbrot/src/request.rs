//! A typed, validated render request, parsed from a query string.

use std::fmt;

/// What the response body holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// Little-endian `u32` escape counts, row-major, first row at `y_max`.
    Counts,
    /// Little-endian `f32` smooth values, same layout.
    Smooth,
    /// An RGB PNG coloured from the smooth values.
    Png,
}

impl Format {
    /// The name used in the query string (`counts`, `smooth`, `png`).
    pub fn name(self) -> &'static str {
        match self {
            Format::Counts => "counts",
            Format::Smooth => "smooth",
            Format::Png => "png",
        }
    }
}

/// Limits that protect a small node from one expensive request. The defaults are what a
/// Raspberry Pi 4 renders in a few seconds at worst (2^30 iterations inside the set, where
/// nothing escapes early) and about 25 MiB of buffers per request; together with the
/// service's [`Capacity`](crate::Capacity) they bound its memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest `width × height`.
    pub max_pixels: u64,
    /// Largest `width` and largest `height`.
    pub max_side: u32,
    /// Largest `max_iter`.
    pub max_iter: u32,
    /// Largest `width × height × max_iter`: the worst-case number of iterations.
    pub max_work: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pixels: 2_097_152,
            max_side: 16_384,
            max_iter: 100_000,
            max_work: 1 << 30,
        }
    }
}

/// What is wrong with a parameter.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Problem {
    /// Absent, and it has no default.
    #[error("is required")]
    Missing,
    /// Given twice: which one was meant is not guessed.
    #[error("is given more than once")]
    Duplicate,
    /// Not a parameter of the route (a typo is not ignored).
    #[error("is not a known parameter")]
    Unknown,
    /// Not a number; holds the text given.
    #[error("is not a number: {0:?}")]
    NotANumber(String),
    /// Not a whole number; holds the text given.
    #[error("is not an integer: {0:?}")]
    NotAnInteger(String),
    /// Infinite or NaN.
    #[error("must be finite")]
    NotFinite,
    /// Below the smallest value allowed, which it holds.
    #[error("must be at least {0}")]
    TooSmall(u64),
    /// Above the largest value allowed, which it holds.
    #[error("must be at most {0}")]
    TooLarge(u64),
    /// Not below the parameter it must be less than (`x_min` below `x_max`).
    #[error("must be less than {0}")]
    NotBelow(&'static str),
    /// The region's width or height overflows an f64.
    #[error("range is too large for f64")]
    RangeTooLarge,
    /// Neighbouring pixels would map to the same f64 coordinate.
    #[error("range is too narrow for f64 at this resolution (pixels would coincide)")]
    RangeTooNarrow,
    /// An output format other than counts, smooth or png; holds the text given.
    #[error("must be one of counts, smooth, png (got {0:?})")]
    UnknownFormat(String),
    /// The image has more pixels than one request may ask for.
    #[error("width × height = {pixels} exceeds the limit of {max} pixels")]
    TooManyPixels {
        /// width × height asked for.
        pixels: u64,
        /// The most pixels one request may have.
        max: u64,
    },
    /// The image would take more iterations than one request's work budget.
    #[error("width × height × max_iter = {work} exceeds the limit of {max}")]
    TooMuchWork {
        /// width × height × max_iter asked for.
        work: u64,
        /// The work budget of one request.
        max: u64,
    },
}

/// A rejected request: which parameter, and what is wrong with it.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{parameter} {problem}")]
pub struct ParamError {
    /// The parameter's name, as in the query string.
    pub parameter: String,
    /// What is wrong with it.
    pub problem: Problem,
}

impl ParamError {
    fn new(parameter: &str, problem: Problem) -> ParamError {
        ParamError {
            parameter: parameter.to_owned(),
            problem,
        }
    }
}

/// The region of the complex plane: `x` is the real axis, `y` the imaginary one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Region {
    /// The real part at the image's left edge.
    pub x_min: f64,
    /// The real part at the image's right edge.
    pub x_max: f64,
    /// The imaginary part at the image's bottom edge.
    pub y_min: f64,
    /// The imaginary part at the image's top edge.
    pub y_max: f64,
}

/// A validated render request. Build one with [`RenderRequest::parse`] or
/// [`RenderRequest::new`]; every instance satisfies the limits it was checked against.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RenderRequest {
    region: Region,
    width: u32,
    height: u32,
    max_iter: u32,
    format: Format,
}

/// `max_iter` when the query does not say.
pub const DEFAULT_MAX_ITER: u32 = 500;

const PARAMETERS: [&str; 8] = [
    "x_min", "x_max", "y_min", "y_max", "width", "height", "max_iter", "format",
];

impl RenderRequest {
    /// Parses `x_min`, `x_max`, `y_min`, `y_max`, `width`, `height` (required), `max_iter`
    /// (default 500) and `format` (`counts`, `smooth` or `png`; default `png`) from a
    /// URL query string (without `?`), checked against the default [`Limits`].
    pub fn parse(query: &str) -> Result<RenderRequest, ParamError> {
        RenderRequest::parse_with(query, &Limits::default())
    }

    /// [`RenderRequest::parse`] with explicit limits.
    pub fn parse_with(query: &str, limits: &Limits) -> Result<RenderRequest, ParamError> {
        let mut values: [Option<String>; PARAMETERS.len()] = Default::default();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let Some(slot) = PARAMETERS.iter().position(|name| *name == key) else {
                return Err(ParamError::new(&key, Problem::Unknown));
            };
            if values[slot].is_some() {
                return Err(ParamError::new(PARAMETERS[slot], Problem::Duplicate));
            }
            values[slot] = Some(value.into_owned());
        }
        let [x_min, x_max, y_min, y_max, width, height, max_iter, format] = values;
        let region = Region {
            x_min: float("x_min", x_min)?,
            x_max: float("x_max", x_max)?,
            y_min: float("y_min", y_min)?,
            y_max: float("y_max", y_max)?,
        };
        let width = integer("width", width)?;
        let height = integer("height", height)?;
        let max_iter = match max_iter {
            Some(text) => integer("max_iter", Some(text))?,
            None => DEFAULT_MAX_ITER,
        };
        let format = match format.as_deref() {
            None | Some("png") => Format::Png,
            Some("counts") => Format::Counts,
            Some("smooth") => Format::Smooth,
            Some(other) => {
                return Err(ParamError::new(
                    "format",
                    Problem::UnknownFormat(other.to_owned()),
                ))
            }
        };
        RenderRequest::new(region, width, height, max_iter, format, limits)
    }

    /// Validates a request built in code.
    pub fn new(
        region: Region,
        width: u32,
        height: u32,
        max_iter: u32,
        format: Format,
        limits: &Limits,
    ) -> Result<RenderRequest, ParamError> {
        for (name, value) in [
            ("x_min", region.x_min),
            ("x_max", region.x_max),
            ("y_min", region.y_min),
            ("y_max", region.y_max),
        ] {
            if !value.is_finite() {
                return Err(ParamError::new(name, Problem::NotFinite));
            }
        }
        axis("x", region.x_min, region.x_max, width)?;
        axis("y", region.y_min, region.y_max, height)?;
        for (name, value) in [("width", width), ("height", height)] {
            if value == 0 {
                return Err(ParamError::new(name, Problem::TooSmall(1)));
            }
            if value > limits.max_side {
                return Err(ParamError::new(
                    name,
                    Problem::TooLarge(limits.max_side.into()),
                ));
            }
        }
        let pixels = u64::from(width) * u64::from(height);
        if pixels > limits.max_pixels {
            return Err(ParamError::new(
                "width",
                Problem::TooManyPixels {
                    pixels,
                    max: limits.max_pixels,
                },
            ));
        }
        if max_iter == 0 {
            return Err(ParamError::new("max_iter", Problem::TooSmall(1)));
        }
        if max_iter > limits.max_iter {
            return Err(ParamError::new(
                "max_iter",
                Problem::TooLarge(limits.max_iter.into()),
            ));
        }
        let work = pixels * u64::from(max_iter);
        if work > limits.max_work {
            return Err(ParamError::new(
                "max_iter",
                Problem::TooMuchWork {
                    work,
                    max: limits.max_work,
                },
            ));
        }
        Ok(RenderRequest {
            region,
            width,
            height,
            max_iter,
            format,
        })
    }

    /// The region.
    pub fn region(&self) -> Region {
        self.region
    }

    /// Pixels per row.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Rows.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// `width × height`.
    pub fn pixels(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }

    /// The iteration cap.
    pub fn max_iter(&self) -> u32 {
        self.max_iter
    }

    /// The response format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The same request with another format.
    pub fn with_format(self, format: Format) -> RenderRequest {
        RenderRequest { format, ..self }
    }
}

impl fmt::Display for RenderRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.region;
        write!(
            f,
            "[{}, {}] × [{}, {}] at {}×{}, max_iter {}, {}",
            r.x_min,
            r.x_max,
            r.y_min,
            r.y_max,
            self.width,
            self.height,
            self.max_iter,
            self.format.name()
        )
    }
}

/// Checks one axis: `min < max`, a finite span, and pixels that stay distinct in f64.
fn axis(name: &'static str, min: f64, max: f64, pixels: u32) -> Result<(), ParamError> {
    let (min_name, max_name) = if name == "x" {
        ("x_min", "x_max")
    } else {
        ("y_min", "y_max")
    };
    if min >= max {
        return Err(ParamError::new(min_name, Problem::NotBelow(max_name)));
    }
    let span = max - min;
    if !span.is_finite() {
        return Err(ParamError::new(max_name, Problem::RangeTooLarge));
    }
    // A pixel step below ~4 ulps of the coordinates would collapse neighbouring pixels.
    let step = span / f64::from(pixels.max(1));
    let scale = min.abs().max(max.abs());
    if step < scale * 4.0 * f64::EPSILON {
        return Err(ParamError::new(max_name, Problem::RangeTooNarrow));
    }
    Ok(())
}

fn float(name: &str, value: Option<String>) -> Result<f64, ParamError> {
    let text = value.ok_or_else(|| ParamError::new(name, Problem::Missing))?;
    let number: f64 = text
        .trim()
        .parse()
        .map_err(|_| ParamError::new(name, Problem::NotANumber(text.clone())))?;
    if number.is_finite() {
        Ok(number)
    } else {
        Err(ParamError::new(name, Problem::NotFinite))
    }
}

fn integer(name: &str, value: Option<String>) -> Result<u32, ParamError> {
    let text = value.ok_or_else(|| ParamError::new(name, Problem::Missing))?;
    let trimmed = text.trim();
    if trimmed.len() > 1
        && trimmed.starts_with('-')
        && trimmed[1..].bytes().all(|b| b.is_ascii_digit())
    {
        return Err(ParamError::new(name, Problem::TooSmall(1)));
    }
    match trimmed.parse::<u64>() {
        Ok(number) => u32::try_from(number)
            .map_err(|_| ParamError::new(name, Problem::TooLarge(u32::MAX.into()))),
        Err(_) => Err(ParamError::new(name, Problem::NotAnInteger(text))),
    }
}
