//! Collects every problem found while typing the file, so one run shows them all.

use std::fmt;
use std::ops::Range;
use std::path::Path;

use super::diagnostic::{ConfigError, ConfigWarning, Diagnostic};
use super::source_map::SourceMap;

pub(crate) struct Report<'a> {
    file: &'a Path,
    map: SourceMap<'a>,
    errors: Vec<Diagnostic>,
    warnings: Vec<ConfigWarning>,
}

impl<'a> Report<'a> {
    pub(crate) fn new(text: &'a str, file: &'a Path) -> Self {
        Report {
            file,
            map: SourceMap::new(text),
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// A diagnostic at the start of `span`; no span (a whole-file problem) is 1:1.
    pub(crate) fn diagnostic(
        &self,
        span: Option<Range<usize>>,
        field: impl Into<String>,
        message: impl fmt::Display,
    ) -> Diagnostic {
        let (line, column) = span.map_or((1, 1), |s| self.map.position(s.start));
        Diagnostic {
            file: self.file.to_path_buf(),
            line,
            column,
            field: field.into(),
            message: message.to_string(),
        }
    }

    pub(crate) fn error(
        &mut self,
        span: Option<Range<usize>>,
        field: impl Into<String>,
        message: impl fmt::Display,
    ) {
        let d = self.diagnostic(span, field, message);
        self.errors.push(d);
    }

    pub(crate) fn warning(
        &mut self,
        span: Option<Range<usize>>,
        field: impl Into<String>,
        message: impl fmt::Display,
    ) {
        let d = self.diagnostic(span, field, message);
        self.warnings.push(d);
    }

    /// Line of a span, for messages that point back ("first at line 6").
    pub(crate) fn line_of(&self, span: Option<Range<usize>>) -> usize {
        span.map_or(1, |s| self.map.position(s.start).0)
    }

    /// All errors in file order, for when decoding could not go on.
    pub(crate) fn into_error(mut self) -> ConfigError {
        sort(&mut self.errors);
        ConfigError::Invalid {
            diagnostics: self.errors,
        }
    }

    /// The warnings if nothing failed, else all errors in file order.
    pub(crate) fn finish(mut self) -> Result<Vec<ConfigWarning>, ConfigError> {
        if self.errors.is_empty() {
            sort(&mut self.warnings);
            Ok(self.warnings)
        } else {
            Err(self.into_error())
        }
    }
}

// Stable, so problems at one position keep the order they were found in.
fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by_key(|d| (d.line, d.column));
}
