//! A table together with where it starts, when the parser knows.
//!
//! `toml::Spanned` covers values, but on a table that only exists implicitly
//! (`[cluster.x]` with no `[cluster]`) toml has no span to give, and
//! `Spanned` then fails with a confusing "expected a borrowed string" instead
//! of the real problem (here: unknown key `x`). `Located` speaks the same
//! protocol as `Spanned` when a span is offered and otherwise deserializes the
//! table as-is, so the real error surfaces.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Range;

use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

// The names toml's deserializer looks for to hand out spans
// (serde_spanned's `__unstable` constants, stable across toml 0.8).
const NAME: &str = "$__serde_spanned_private_Spanned";
const START: &str = "$__serde_spanned_private_start";
const END: &str = "$__serde_spanned_private_end";
const VALUE: &str = "$__serde_spanned_private_value";

/// The field path segment `Located` adds, which diagnostics must not show.
pub(crate) const PRIVATE_SEGMENT_PREFIX: &str = "$__serde_spanned_private";

#[derive(Debug)]
pub(crate) struct Located<T> {
    pub(crate) span: Option<Range<usize>>,
    pub(crate) value: T,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Located<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_struct(NAME, &[START, END, VALUE], LocatedVisitor(PhantomData))
    }
}

struct LocatedVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for LocatedVisitor<T> {
    type Value = Located<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let first: Option<String> = map.next_key()?;
        if first.as_deref() == Some(START) {
            let start: usize = map.next_value()?;
            expect_key(&mut map, END)?;
            let end: usize = map.next_value()?;
            expect_key(&mut map, VALUE)?;
            let value = map.next_value()?;
            return Ok(Located {
                span: Some(start..end),
                value,
            });
        }
        // No span on offer: this map is the table itself, and its first key
        // has already been read, so hand it back before the rest.
        let replay = Replay { first, rest: map };
        let value = T::deserialize(de::value::MapAccessDeserializer::new(replay))?;
        Ok(Located { span: None, value })
    }
}

fn expect_key<'de, A: MapAccess<'de>>(map: &mut A, want: &'static str) -> Result<(), A::Error> {
    match map.next_key::<String>()? {
        Some(key) if key == want => Ok(()),
        _ => Err(de::Error::custom("malformed span from the toml parser")),
    }
}

struct Replay<A> {
    first: Option<String>,
    rest: A,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Replay<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        match self.first.take() {
            Some(key) => seed
                .deserialize(de::value::StringDeserializer::new(key))
                .map(Some),
            None => self.rest.next_key_seed(seed),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        self.rest.next_value_seed(seed)
    }
}
