//! A record's `message` object, read straight into its parts.
//!
//! Parsed into a `serde_json::Value` first, every object of a message (the message,
//! each content block, the usage) became a map with an allocated key per field, and
//! fields nobody reads (thinking signatures, images' base64 data, cache controls)
//! were copied in whole, only to be dropped: a quarter of reading a real-shaped
//! transcript (#15). These visitors keep what `Message` holds and skip the rest in
//! place.
//!
//! They are as lenient as the tree was: a field of another type than expected is
//! absent, not an error, and a key given twice counts as its last value.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use super::{Block, Usage};

/// What the `message` field held: its parts if it was an object. A message of another
/// type still counts as present (a typeless record with one is an assistant's).
#[derive(Default)]
pub(super) struct RawMessage {
    pub model: Option<String>,
    pub id: Option<String>,
    pub usage: Option<Usage>,
    pub blocks: Vec<Block>,
}

/// Visitor methods for the JSON types a visitor does not want: the value is
/// skipped and the visitor's `Default` kept.
macro_rules! skip {
    ($($kind:ident)*) => { $(skip!(@ $kind);)* };
    (@bool) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
    };
    (@i64) => {
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
    };
    (@u64) => {
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
    };
    (@f64) => {
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
    };
    (@null) => {
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
    };
    (@str) => {
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
    };
    (@array) => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(Default::default())
        }
    };
    (@object) => {
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(Default::default())
        }
    };
}

/// `$ty` is read from any JSON value by `$visitor` (a unit struct declared here),
/// which takes the types it wants and skips the others.
macro_rules! from_any_value {
    ($ty:ident, $visitor:ident) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any($visitor)
            }
        }

        struct $visitor;
    };
}

/// The `expecting` of a visitor that accepts any JSON value.
macro_rules! any_value {
    () => {
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any JSON value")
        }
    };
}

/// Which of `names` a key is, without allocating it (`None` for any other key).
struct Key(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().position(|n| *n == v))
    }
}

/// Reads `map`'s entries, handing each known key's index to `field` to read its
/// value; other entries are skipped.
fn each_field<'de, A: MapAccess<'de>>(
    mut map: A,
    names: &'static [&'static str],
    mut field: impl FnMut(usize, &mut A) -> Result<(), A::Error>,
) -> Result<(), A::Error> {
    while let Some(key) = map.next_key_seed(Key(names))? {
        match key {
            Some(i) => field(i, &mut map)?,
            None => {
                map.next_value::<IgnoredAny>()?;
            }
        }
    }
    Ok(())
}

/// A JSON string, or `None` for any other value.
#[derive(Default)]
struct Text(Option<String>);

from_any_value!(Text, TextVisitor);

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text;

    any_value!();

    fn visit_str<E>(self, v: &str) -> Result<Text, E> {
        Ok(Text(Some(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Text, E> {
        Ok(Text(Some(v)))
    }

    skip!(bool i64 u64 f64 null array object);
}

/// `true` only for JSON `true`.
#[derive(Default)]
struct True(bool);

from_any_value!(True, TrueVisitor);

impl<'de> Visitor<'de> for TrueVisitor {
    type Value = True;

    any_value!();

    fn visit_bool<E>(self, v: bool) -> Result<True, E> {
        Ok(True(v))
    }

    skip!(i64 u64 f64 null str array object);
}

/// A token count: a non-negative integer, else 0.
#[derive(Default)]
struct Count(u64);

from_any_value!(Count, CountVisitor);

impl<'de> Visitor<'de> for CountVisitor {
    type Value = Count;

    any_value!();

    fn visit_u64<E>(self, v: u64) -> Result<Count, E> {
        Ok(Count(v))
    }

    // serde_json hands non-negative integers to `visit_u64`; a negative count is 0,
    // as are the other types.
    skip!(bool i64 f64 null str array object);
}

/// `usage`: its four counts if it is an object.
#[derive(Default)]
struct MaybeUsage(Option<Usage>);

from_any_value!(MaybeUsage, UsageVisitor);

impl<'de> Visitor<'de> for UsageVisitor {
    type Value = MaybeUsage;

    any_value!();

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<MaybeUsage, A::Error> {
        const NAMES: &[&str] = &[
            "input_tokens",
            "output_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
        ];
        let mut u = Usage::default();
        each_field(map, NAMES, |i, map| {
            let n = map.next_value::<Count>()?.0;
            match i {
                0 => u.input_tokens = n,
                1 => u.output_tokens = n,
                2 => u.cache_creation_input_tokens = n,
                _ => u.cache_read_input_tokens = n,
            }
            Ok(())
        })?;
        Ok(MaybeUsage(Some(u)))
    }

    skip!(bool i64 u64 f64 null str array);
}

from_any_value!(RawMessage, MessageVisitor);

impl<'de> Visitor<'de> for MessageVisitor {
    type Value = RawMessage;

    any_value!();

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawMessage, A::Error> {
        const NAMES: &[&str] = &["model", "id", "usage", "content"];
        let mut m = RawMessage::default();
        each_field(map, NAMES, |i, map| {
            match i {
                0 => m.model = map.next_value::<Text>()?.0,
                1 => m.id = map.next_value::<Text>()?.0,
                2 => m.usage = map.next_value::<MaybeUsage>()?.0,
                _ => m.blocks = map.next_value::<Content>()?.0,
            }
            Ok(())
        })?;
        Ok(m)
    }

    skip!(bool i64 u64 f64 null str array);
}

/// A message's `content`: a string (one text block) or a list of blocks.
#[derive(Default)]
struct Content(Vec<Block>);

from_any_value!(Content, ContentVisitor);

impl<'de> Visitor<'de> for ContentVisitor {
    type Value = Content;

    any_value!();

    fn visit_str<E>(self, v: &str) -> Result<Content, E> {
        Ok(Content(vec![Block::Text(v.to_owned())]))
    }

    fn visit_string<E>(self, v: String) -> Result<Content, E> {
        Ok(Content(vec![Block::Text(v)]))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Content, A::Error> {
        let mut blocks = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(b) = seq.next_element::<RawBlock>()? {
            blocks.push(b.0);
        }
        Ok(Content(blocks))
    }

    skip!(bool i64 u64 f64 null object);
}

/// One content block.
struct RawBlock(Block);

from_any_value!(RawBlock, BlockVisitor);

impl BlockVisitor {
    /// A block that is not an object or a string, named as `json_kind` names it.
    fn other(kind: &str) -> RawBlock {
        RawBlock(Block::Other(kind.to_owned()))
    }
}

impl<'de> Visitor<'de> for BlockVisitor {
    type Value = RawBlock;

    any_value!();

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawBlock, A::Error> {
        const NAMES: &[&str] = &[
            "type",
            "text",
            "thinking",
            "id",
            "name",
            "input",
            "tool_use_id",
            "content",
            "is_error",
        ];
        // The type may come after the fields it decides about, so every field a
        // block of some type keeps is read; a block has few of them.
        let mut kind = None;
        let (mut text, mut thinking, mut id, mut name) = (None, None, None, None);
        let (mut input, mut tool_use_id, mut content, mut is_error) = (None, None, None, false);
        each_field(map, NAMES, |i, map| {
            match i {
                0 => kind = map.next_value::<Text>()?.0,
                1 => text = map.next_value::<Text>()?.0,
                2 => thinking = map.next_value::<Text>()?.0,
                3 => id = map.next_value::<Text>()?.0,
                4 => name = map.next_value::<Text>()?.0,
                5 => input = Some(map.next_value::<Value>()?),
                6 => tool_use_id = map.next_value::<Text>()?.0,
                7 => content = Some(map.next_value::<ResultText>()?.0),
                _ => is_error = map.next_value::<True>()?.0,
            }
            Ok(())
        })?;
        Ok(RawBlock(match kind.as_deref().unwrap_or_default() {
            "text" => Block::Text(text.unwrap_or_default()),
            "thinking" => Block::Thinking(thinking.unwrap_or_default()),
            "redacted_thinking" => Block::Thinking(String::new()),
            "tool_use" | "server_tool_use" => Block::ToolUse {
                id: id.unwrap_or_default(),
                name: name.unwrap_or_default(),
                input: input.unwrap_or(Value::Null),
            },
            "tool_result" => Block::ToolResult {
                tool_use_id: tool_use_id.unwrap_or_default(),
                content: content.unwrap_or_default(),
                is_error,
            },
            "image" => Block::Image,
            other => Block::Other(other.to_owned()),
        }))
    }

    fn visit_str<E>(self, v: &str) -> Result<RawBlock, E> {
        Ok(RawBlock(Block::Text(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<RawBlock, E> {
        Ok(RawBlock(Block::Text(v)))
    }

    fn visit_bool<E>(self, _: bool) -> Result<RawBlock, E> {
        Ok(Self::other("a boolean"))
    }
    fn visit_i64<E>(self, _: i64) -> Result<RawBlock, E> {
        Ok(Self::other("a number"))
    }
    fn visit_u64<E>(self, _: u64) -> Result<RawBlock, E> {
        Ok(Self::other("a number"))
    }
    fn visit_f64<E>(self, _: f64) -> Result<RawBlock, E> {
        Ok(Self::other("a number"))
    }
    fn visit_unit<E>(self) -> Result<RawBlock, E> {
        Ok(Self::other("null"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawBlock, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Self::other("an array"))
    }
}

/// A tool result's `content`: a string, or a list of text (and image) blocks whose
/// texts are joined by newlines.
#[derive(Default)]
struct ResultText(String);

from_any_value!(ResultText, ResultTextVisitor);

impl<'de> Visitor<'de> for ResultTextVisitor {
    type Value = ResultText;

    any_value!();

    fn visit_str<E>(self, v: &str) -> Result<ResultText, E> {
        Ok(ResultText(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<ResultText, E> {
        Ok(ResultText(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ResultText, A::Error> {
        let mut out = String::new();
        while let Some(item) = seq.next_element::<ItemText>()? {
            if let Some(t) = item.0 {
                if out.is_empty() {
                    out = t;
                } else {
                    out.push('\n');
                    out.push_str(&t);
                }
            }
        }
        Ok(ResultText(out))
    }

    skip!(bool i64 u64 f64 null object);
}

/// An item of a tool result's list: a string, or an object's `text` string.
#[derive(Default)]
struct ItemText(Option<String>);

from_any_value!(ItemText, ItemTextVisitor);

impl<'de> Visitor<'de> for ItemTextVisitor {
    type Value = ItemText;

    any_value!();

    fn visit_str<E>(self, v: &str) -> Result<ItemText, E> {
        Ok(ItemText(Some(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<ItemText, E> {
        Ok(ItemText(Some(v)))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ItemText, A::Error> {
        let mut text = None;
        each_field(map, &["text"], |_, map| {
            text = map.next_value::<Text>()?.0;
            Ok(())
        })?;
        Ok(ItemText(text))
    }

    skip!(bool i64 u64 f64 null array);
}
