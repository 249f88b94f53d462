//! The `:` command line's editing state: text, cursor, Tab-completion cycling and history
//! browsing. Pure: keys in, text out.

use super::history::History;
use crate::command::{self, Completion, Context};

#[derive(Debug, Clone, Default)]
pub struct LineEditor {
    pub text: String,
    /// Cursor position in chars.
    pub cursor: usize,
    /// Completion being cycled: the text before the first Tab, the candidates, the index shown.
    cycling: Option<(String, Completion, usize)>,
    /// Inline error of the last attempt to run this line.
    pub error: Option<String>,
}

impl LineEditor {
    pub fn new(text: &str) -> Self {
        Self { text: text.to_owned(), cursor: text.chars().count(), ..Self::default() }
    }

    fn byte_at(&self, cursor: usize) -> usize {
        self.text.char_indices().nth(cursor).map_or(self.text.len(), |(i, _)| i)
    }

    fn edited(&mut self) {
        self.cycling = None;
        self.error = None;
    }

    pub fn insert(&mut self, c: char) {
        let at = self.byte_at(self.cursor);
        self.text.insert(at, c);
        self.cursor += 1;
        self.edited();
    }

    pub fn backspace(&mut self) {
        if self.cursor > 0 {
            self.cursor -= 1;
            let at = self.byte_at(self.cursor);
            self.text.remove(at);
            self.edited();
        }
    }

    pub fn delete(&mut self) {
        if self.cursor < self.text.chars().count() {
            let at = self.byte_at(self.cursor);
            self.text.remove(at);
            self.edited();
        }
    }

    /// Deletes the word before the cursor (Ctrl-W).
    pub fn delete_word(&mut self) {
        let end = self.byte_at(self.cursor);
        let before = self.text[..end].trim_end();
        let start = before.rfind(' ').map_or(0, |i| i + 1);
        self.text.replace_range(start..end, "");
        self.cursor = self.text[..start].chars().count();
        self.edited();
    }

    pub fn left(&mut self) {
        self.cursor = self.cursor.saturating_sub(1);
    }

    pub fn right(&mut self) {
        self.cursor = (self.cursor + 1).min(self.text.chars().count());
    }

    pub fn home(&mut self) {
        self.cursor = 0;
    }

    pub fn end(&mut self) {
        self.cursor = self.text.chars().count();
    }

    pub fn set(&mut self, text: &str) {
        text.clone_into(&mut self.text);
        self.end();
        self.edited();
    }

    /// Tab: complete the word at the end; repeated Tabs cycle through the candidates.
    pub fn complete(&mut self, context: &Context, backwards: bool) {
        if let Some((base, completion, index)) = &mut self.cycling {
            let n = completion.candidates.len();
            *index = if backwards { (*index + n - 1) % n } else { (*index + 1) % n };
            self.text = command::apply_completion(base, completion, *index);
            self.cursor = self.text.chars().count();
            return;
        }
        self.end();
        let completion = command::complete(&self.text, context);
        if completion.candidates.is_empty() {
            return;
        }
        let base = self.text.clone();
        self.text = command::apply_completion(&base, &completion, 0);
        self.cursor = self.text.chars().count();
        self.error = None;
        if completion.candidates.len() > 1 {
            self.cycling = Some((base, completion, 0));
        }
    }

    /// The candidates being cycled, and which one is shown.
    pub fn candidates(&self) -> Option<(&[String], usize)> {
        self.cycling.as_ref().map(|(_, c, i)| (c.candidates.as_slice(), *i))
    }

    pub fn older(&mut self, history: &mut History) {
        if let Some(line) = history.older(&self.text).map(str::to_owned) {
            self.set(&line);
        }
    }

    pub fn newer(&mut self, history: &mut History) {
        if let Some(line) = history.newer().map(str::to_owned) {
            self.set(&line);
        }
    }
}
