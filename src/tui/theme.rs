//! The dashboard's two themes. Every colour it draws with is one of the terminal's sixteen,
//! so the terminal's own palette tints it; the dark theme (the default) uses them as they are.
//! On a light background the bright ones wash out and white vanishes, so the light theme maps
//! each colour of a finished frame to one that reads on white: one pure function, applied to
//! the whole buffer, so no widget needs to know.

use ratatui::buffer::Buffer;
use ratatui::style::Color;

/// Which background the colours are chosen for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Theme {
    /// A dark terminal background.
    #[default]
    Dark,
    /// A light terminal background.
    Light,
}

/// The colour drawn in place of `colour` on a light background.
pub fn on_light(colour: Color) -> Color {
    match colour {
        Color::White => Color::Black,
        Color::Black => Color::White,
        Color::Gray => Color::DarkGray,
        Color::LightYellow => Color::Yellow,
        Color::LightMagenta => Color::Magenta,
        Color::LightCyan => Color::Cyan,
        Color::LightBlue => Color::Blue,
        Color::LightGreen => Color::Green,
        Color::LightRed => Color::Red,
        other => other,
    }
}

/// Recolours a drawn frame for `theme`.
pub fn apply(theme: Theme, buffer: &mut Buffer) {
    if theme == Theme::Dark {
        return;
    }
    for cell in &mut buffer.content {
        cell.fg = on_light(cell.fg);
        cell.bg = on_light(cell.bg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_light_theme_draws_no_colour_that_washes_out_on_white() {
        let washed = [Color::White, Color::LightYellow, Color::LightCyan, Color::Gray];
        for colour in [
            Color::Reset,
            Color::Black,
            Color::Red,
            Color::Green,
            Color::Yellow,
            Color::Blue,
            Color::Magenta,
            Color::Cyan,
            Color::Gray,
            Color::DarkGray,
            Color::LightRed,
            Color::LightGreen,
            Color::LightYellow,
            Color::LightBlue,
            Color::LightMagenta,
            Color::LightCyan,
            Color::White,
        ] {
            let light = on_light(colour);
            // As a foreground: nothing pale.
            if colour != Color::Black {
                assert!(!washed.contains(&light), "{colour:?} → {light:?}");
            }
        }
        // Black and white swap, so a badge (black on a colour) and a selection stay legible.
        assert_eq!((on_light(Color::Black), on_light(Color::White)), (Color::White, Color::Black));
    }
}
