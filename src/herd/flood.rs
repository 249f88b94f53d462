//! The flooding rule as a pure function: which neighbours a newly stored report goes to.

use super::events::ServerId;

/// Does a newly stored report go to `neighbour`? To every neighbour except the one it came
/// from and the server that wrote it: both already have it.
pub fn forwards_to(
    neighbour: ServerId,
    sender: Option<ServerId>,
    origin: Option<ServerId>,
) -> bool {
    Some(neighbour) != sender && Some(neighbour) != origin
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_sender_and_origin() {
        for (sender, origin, want) in [
            (None, None, vec![1, 2, 3]),
            (Some(2), None, vec![1, 3]),
            (None, Some(3), vec![1, 2]),
            (Some(1), Some(3), vec![2]),
            (Some(1), Some(1), vec![2, 3]),
            (Some(9), Some(8), vec![1, 2, 3]),
        ] {
            let got: Vec<_> = [1, 2, 3]
                .into_iter()
                .filter(|&n| forwards_to(n, sender, origin))
                .collect();
            assert_eq!(got, want, "sender {sender:?} origin {origin:?}");
        }
    }
}
