use closedloop_triage::{DuplicateIndex, IndexOptions, TicketText, clusters};

use crate::triage;

#[test]
fn finds_a_reworded_traditional_duplicate_and_confirms_it_with_the_pair_scorer() {
    let t = triage();
    let texts = [
        "我的账号被盗了，绑定的手机号也被改了，请尽快帮我处理",
        "快递一周了还没送到，物流信息一直不更新",
        "The checkout page won't load, it just shows a blank screen",
    ];
    let mut index = DuplicateIndex::new(IndexOptions::default());
    for (i, text) in texts.iter().enumerate() {
        assert!(t.index_ticket(
            &mut index,
            i as u64,
            TicketText {
                title: None,
                description: text
            }
        ));
    }
    let fetch = |id: u64| texts.get(id as usize).map(|s| (*s).to_owned());
    let hits = t.find_duplicates(
        &index,
        TicketText {
            title: None,
            description: "我的帳號被盜了，綁定的手機號也被改了，請儘快幫我處理！",
        },
        3,
        &fetch,
    );
    assert_eq!(hits.first().map(|h| h.id), Some(0), "{hits:?}");
    assert!(hits[0].duplicate);
    let none = t.find_duplicates(
        &index,
        TicketText {
            title: None,
            description: "建议增加夜间模式",
        },
        3,
        &fetch,
    );
    assert!(none.iter().all(|h| !h.duplicate), "{none:?}");
}

#[test]
fn clusters_group_duplicate_edges() {
    let c = clusters([(5, 6), (6, 7), (9, 8)]);
    assert_eq!(c, vec![vec![5, 6, 7], vec![8, 9]]);
}
