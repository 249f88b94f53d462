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

    /// What shows of the text in `width` columns with the cursor always in view: the text
    /// from some char on (with `…` first when the start is hidden), and the cursor's column.
    pub fn visible(&self, width: usize) -> (String, usize) {
        let width = width.max(2);
        let chars: Vec<char> = self.text.chars().collect();
        if self.cursor < width {
            return (chars.iter().take(width).collect(), self.cursor);
        }
        // Hidden start: `…`, then the chars up to the cursor, the cursor on the last column.
        let first = self.cursor + 2 - width;
        let shown: String =
            std::iter::once('…').chain(chars.iter().skip(first).take(width - 1).copied()).collect();
        (shown, width - 1)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_stays_in_view_of_a_long_line() {
        let mut editor = LineEditor::new("delay Bailey->Campbell 200ms jitter 50ms normal for 30s");
        let (shown, column) = editor.visible(20);
        assert_eq!((shown.chars().count(), column), (19, 19), "the cursor after the last char");
        assert!(shown.starts_with('…') && shown.ends_with("for 30s"), "{shown}");
        editor.home();
        let (shown, column) = editor.visible(20);
        assert_eq!((shown.as_str(), column), ("delay Bailey->Campbe", 0));
        let short = LineEditor::new("kill Bona");
        assert_eq!(short.visible(20), ("kill Bona".to_owned(), 9));
    }
}
