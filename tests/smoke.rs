mod common;

#[tokio::test]
async fn iamat_floods_to_all_five() {
    let mut t = common::start("cs131").await;
    let reply = t
        .grading(
            "Bailey",
            "IAMAT kiwi +34.068930-118.445127 1621464827.959498503",
        )
        .await;
    let f = common::at_fields(&reply);
    assert_eq!(f[1], "Bailey");
    t.wait_stored_at(&["Bailey", "Bona", "Campbell", "Clark", "Jaquez"], "kiwi")
        .await;
}
