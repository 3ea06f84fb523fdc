//! The name of the message a receive task or a message catch event waits
//! for: what a person, a device or the office API sends to the instance.
//!
//! | written | name |
//! |---|---|
//! | `fieldwork:message="reply"` | `reply` |
//! | `messageRef` → `<message name="reply_received">` | `reply_received` |
//! | `messageRef` → `<message id="Message_0x" name="Reply received">` | `Message_0x` (the name is not a valid one) |
//!
//! Guarantees: `fieldwork:message` always wins; a `<message>` name is used
//! only when it is 1-64 letters, digits, `_` or `-` (the model's rule),
//! otherwise its id; no `fieldwork:message` and no `messageRef`, or a
//! `messageRef` naming no `<message>` of the file, is a problem.

use std::collections::BTreeMap;

use super::read::Node;
use crate::process::model::valid_id;

/// The message node `n` waits for, given the file's `<message>` elements
/// (id → name); or what is wrong.
pub(super) fn name(
    n: &Node,
    messages: &BTreeMap<String, Option<String>>,
) -> Result<String, String> {
    if let Some(m) = n.fw.get("message") {
        return Ok(m.trim().to_owned());
    }
    let Some(reference) = n.message_ref.as_deref() else {
        return Err(
            "which message? give a messageRef (a <message> of the file) or fieldwork:message=\"NAME\""
                .into(),
        );
    };
    match messages.get(reference) {
        Some(Some(name)) if valid_id(name.trim()) => Ok(name.trim().to_owned()),
        Some(_) => Ok(reference.to_owned()),
        None => Err(format!(
            "messageRef `{reference}` names no <message> of the file"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_name_is_fieldworks_then_the_messages_valid_name_then_its_id() {
        let messages: BTreeMap<String, Option<String>> = [
            ("Message_ok".to_owned(), Some("reply_received".to_owned())),
            ("Message_0x1".to_owned(), Some("Reply received".to_owned())),
            ("Message_none".to_owned(), None),
        ]
        .into_iter()
        .collect();
        let with = |fw: Option<&str>, reference: Option<&str>| {
            let mut n = Node {
                message: true,
                message_ref: reference.map(str::to_owned),
                ..Node::default()
            };
            if let Some(m) = fw {
                n.fw.insert("message".into(), m.into());
            }
            name(&n, &messages)
        };
        assert_eq!(
            with(Some("signed"), Some("Message_ok")).as_deref(),
            Ok("signed")
        );
        assert_eq!(
            with(None, Some("Message_ok")).as_deref(),
            Ok("reply_received")
        );
        assert_eq!(
            with(None, Some("Message_0x1")).as_deref(),
            Ok("Message_0x1")
        );
        assert_eq!(
            with(None, Some("Message_none")).as_deref(),
            Ok("Message_none")
        );
        let missing = with(None, Some("Message_gone")).expect_err("no such message");
        assert!(
            missing.contains("`Message_gone` names no <message>"),
            "{missing}"
        );
        let none = with(None, None).expect_err("no reference");
        assert!(none.contains("fieldwork:message"), "{none}");
        assert!(
            valid_id("a-b_c9") && !valid_id("") && !valid_id("a b") && !valid_id(&"x".repeat(65))
        );
    }
}
