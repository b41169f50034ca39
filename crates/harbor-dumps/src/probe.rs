//! The few fields the filter looks at, read without building the whole record.
//!
//! Strings are borrowed from the line when they have no escapes. A field of an unexpected type (a
//! number where a string belongs, an object, ...) reads as absent instead of failing, so only lines
//! that are not JSON at all fail here.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Accepts every other JSON type as "absent".
macro_rules! ignore_others {
    () => {
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(Text(None))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(Text(None))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(Text(None))
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(Text(None))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Text(None))
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Text(None))
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            Text::deserialize(d)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
            while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(Text(None))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
            while s.next_element::<IgnoredAny>()?.is_some() {}
            Ok(Text(None))
        }
    };
}

/// A string field, or nothing.
#[derive(Debug, Default)]
pub(crate) struct Text<'a>(pub Option<Cow<'a, str>>);

impl<'a> Text<'a> {
    pub fn as_str(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(v))))
            }
            ignore_others!();
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// `created_utc` as epoch seconds: an integer, a float, or a numeric string (older eras).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Epoch(pub Option<f64>);

impl<'de> Deserialize<'de> for Epoch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Epoch;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("epoch seconds")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Epoch(Some(v as f64)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Epoch(Some(v as f64)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Epoch(Some(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Epoch(v.trim().parse::<f64>().ok().filter(|f| f.is_finite())))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Epoch(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Epoch(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Epoch(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                Epoch::deserialize(d)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Epoch(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Epoch(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// The fields of the subreddit, author and time filters.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Probe<'a> {
    #[serde(borrow, default)]
    pub subreddit: Text<'a>,
    #[serde(borrow, default)]
    pub author: Text<'a>,
    #[serde(default)]
    pub created_utc: Epoch,
}

/// [`Probe`] plus the texts the keyword filter reads.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ProbeText<'a> {
    #[serde(borrow, default)]
    pub subreddit: Text<'a>,
    #[serde(borrow, default)]
    pub author: Text<'a>,
    #[serde(default)]
    pub created_utc: Epoch,
    #[serde(borrow, default)]
    pub title: Text<'a>,
    #[serde(borrow, default)]
    pub selftext: Text<'a>,
    #[serde(borrow, default)]
    pub body: Text<'a>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_era_variants() {
        let p: ProbeText = serde_json::from_str(
            r#"{"subreddit":"AskReddit","author":null,"created_utc":"1199145600","title":"a\nb","body":5,"x":[1,{"y":2}]}"#,
        )
        .expect("parses");
        assert_eq!(p.subreddit.as_str(), Some("AskReddit"));
        assert!(matches!(p.subreddit.0, Some(Cow::Borrowed(_))));
        assert_eq!(p.author.as_str(), None);
        assert_eq!(p.created_utc.0, Some(1_199_145_600.0));
        assert_eq!(p.title.as_str(), Some("a\nb"));
        assert_eq!(p.body.as_str(), None);
        let f: Probe =
            serde_json::from_str(r#"{"created_utc":1564617600.5,"subreddit":{"a":1}}"#).expect("parses");
        assert_eq!(f.created_utc.0, Some(1_564_617_600.5));
        assert_eq!(f.subreddit.as_str(), None);
        assert!(serde_json::from_str::<Probe>(r#"{"created_utc": 1"#).is_err());
    }
}
