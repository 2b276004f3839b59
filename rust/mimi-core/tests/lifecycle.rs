//! The core without Python: a group with the hub's view, through add, message,
//! app-data update, hub-issued remove, external join and restart.

use mimi_core::{AppDataChange, AppDataError, AppDataValues, Client, ExternalSenderInfo, HubView, MergeError, ProcessError, SignatureKeyPair};

fn replace(_old: &[(u16, Vec<u8>)], proposals: &[AppDataChange]) -> Result<AppDataValues, AppDataError> {
    Ok(proposals.iter().map(|p| (p.component_id, p.update.clone())).collect())
}

#[test]
fn lifecycle_with_hub_view() {
    let hub_key = SignatureKeyPair::generate();
    let hub = ExternalSenderInfo {
        signature_key: hub_key.public(),
        identity: "mimi://a.example".into(),
    };
    let alice = Client::new("mimi://a.example/d/alice/phone", SignatureKeyPair::generate());
    let bob = Client::new("mimi://b.example/d/bob/phone", SignatureKeyPair::generate());
    let mut a = alice.create_group(b"room", &hub, &[(0xF000, b"v0".to_vec())]).unwrap();
    let mut view = HubView::from_group_info(&a.export_group_info().unwrap(), &a.export_ratchet_tree().unwrap()).unwrap();

    let kp = bob.key_packages(1).unwrap();
    let change = AppDataChange { component_id: 0xF000, update: Some(b"v1".to_vec()) };
    let out = a.commit(&kp, &[], &[change], false, Some(&mut replace)).unwrap();
    let report = view.process(&out.commit, Some(&out.group_info), Some(&mut replace)).unwrap();
    assert_eq!(report.added.len(), 1);
    assert_eq!(report.added[0].identity, "mimi://b.example/d/bob/phone");
    view.merge().unwrap();
    a.merge_pending_commit().unwrap();
    let mut b = bob.join_welcome(out.welcome.as_ref().unwrap(), &out.ratchet_tree).unwrap();
    assert_eq!(a.epoch_authenticator(), b.epoch_authenticator());
    assert_eq!(view.tree_hash(), b.tree_hash());
    assert_eq!(view.app_data(), vec![(0xF000, b"v1".to_vec())]);

    let msg = a.encrypt(b"hello", b"").unwrap();
    assert_eq!(b.process(&msg, None).unwrap().plaintext.as_deref(), Some(&b"hello"[..]));
    assert!(matches!(b.process(&msg[..msg.len() - 1], None), Err(ProcessError::Decode(_))));

    // The hub removes Bob; Alice commits to it.
    let proposal = view.propose_remove(b.own_leaf_index(), &hub_key).unwrap();
    view.process(&proposal, None, None).unwrap();
    view.merge().unwrap();
    a.process(&proposal, None).unwrap();
    a.merge().unwrap();
    let out = a.commit(&[], &[], &[], false, None).unwrap();
    let report = view.process(&out.commit, Some(&out.group_info), None).unwrap();
    assert_eq!(report.removed[0].identity, "mimi://b.example/d/bob/phone");
    view.merge().unwrap();
    a.merge_pending_commit().unwrap();
    assert_eq!(view.epoch(), 2);

    // A new device joins externally; the view survives export/import.
    let tablet = Client::new("mimi://a.example/d/alice/tablet", SignatureKeyPair::generate());
    let (t, out) = tablet.join_external(&view.group_info(), &view.export_ratchet_tree().unwrap()).unwrap();
    let mut view = HubView::import_state(&view.export_state().unwrap()).unwrap();
    let report = view.process(&out.commit, Some(&out.group_info), None).unwrap();
    assert_eq!(report.external_join.as_ref().unwrap().0, "mimi://a.example/d/alice/tablet");
    view.merge().unwrap();
    a.process(&out.commit, None).unwrap();
    a.merge().unwrap();
    assert_eq!(a.epoch_authenticator(), t.epoch_authenticator());
    assert_eq!(view.tree_hash(), t.tree_hash());
    assert!(matches!(
        view.process(&out.commit, Some(&out.group_info), None),
        Err(ProcessError::WrongEpoch { message: 2, group: 3 })
    ));
    // Merging what was refused is the caller's bug, not an MLS refusal.
    assert!(matches!(view.merge(), Err(MergeError::NothingToMerge)));
}

/// A last-resort KeyPackage serves two Welcomes, the second after a restart of
/// its client; a single-use one serves only the first.
#[test]
fn last_resort_key_package_serves_every_welcome() {
    let hub = ExternalSenderInfo {
        signature_key: SignatureKeyPair::generate().public(),
        identity: "mimi://a.example".into(),
    };
    let alice = Client::new("mimi://a.example/d/alice/phone", SignatureKeyPair::generate());
    let bob = Client::new("mimi://b.example/d/bob/phone", SignatureKeyPair::generate());
    let last_resort = bob.last_resort_key_package().unwrap();
    let single_use = bob.key_packages(1).unwrap();
    // A new group of Alice's adds Bob with `kp`; whether Bob joins from its Welcome.
    let mut room = 0u8;
    let mut add = |bob: &Client, kp: &[u8]| {
        room += 1;
        let mut a = alice.create_group(&[room], &hub, &[]).unwrap();
        let out = a.commit(&[kp.to_vec()], &[], &[], false, None).unwrap();
        a.merge_pending_commit().unwrap();
        let joined = bob.join_welcome(out.welcome.as_ref().unwrap(), &out.ratchet_tree);
        joined.map(|b| assert_eq!(a.epoch_authenticator(), b.epoch_authenticator())).is_ok()
    };
    assert!(add(&bob, &last_resort));
    let bob = Client::import_state(&bob.export_state().unwrap()).unwrap();
    assert!(add(&bob, &last_resort));
    assert!(add(&bob, &single_use[0]));
    assert!(!add(&bob, &single_use[0]));
}
