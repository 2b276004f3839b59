//! draft-ietf-mimi-protocol §Claim group key information without Python: the
//! hub seals GroupInfoRatchetTreeTBE to the requester, who opens it and joins
//! by external commit; the strict decoding of the TBE and its parts.

use mimi_core::hpke::{decrypt_with_label, encrypt_with_label, HpkeKeyPair};
use mimi_core::wire::{
    basic_credential, basic_credential_identity, ExternalSender, GroupInfoRatchetTreeTBE, PendingProposal,
    RatchetTreeOption, RatchetTreeRepresentation, Wire, GROUP_INFO_ENCRYPTION_LABEL,
};
use mimi_core::{Client, DecodeError, ExternalSenderInfo, Group, HpkeError, HubView, SignatureKeyPair};

const ROOM: &str = "mimi://a.example/r/clubhouse";

/// Alice's new group with hub a as external sender; the hub's key.
fn alices_group() -> (Group, SignatureKeyPair) {
    let hub_key = SignatureKeyPair::generate();
    let hub = ExternalSenderInfo {
        signature_key: hub_key.public(),
        identity: "mimi://a.example".into(),
    };
    let alice = Client::new("mimi://a.example/d/alice/phone", SignatureKeyPair::generate());
    (alice.create_group(b"room", &hub, &[]).unwrap(), hub_key)
}

fn decode_error(e: DecodeError, field: &str) {
    assert!(e.to_string().contains(field), "want {field}: {e}");
}

#[test]
fn sealed_group_info_opens_and_joins() {
    let (group, hub_key) = alices_group();
    let mut view = HubView::from_group_info(
        &group.export_group_info().unwrap(),
        &group.export_ratchet_tree().unwrap(),
    )
    .unwrap();
    let remove = view.propose_remove(0, &hub_key).unwrap();

    // The hub: bare GroupInfo (the MLSMessage without its 4-byte header), the
    // full tree, one pending proposal.
    let tree = RatchetTreeOption::new(
        RatchetTreeRepresentation::Full,
        Some(view.export_ratchet_tree().unwrap()),
        None,
        None,
    )
    .unwrap();
    let pending = PendingProposal::new(remove.clone(), 1_700_000_000_000).unwrap();
    let tbe = GroupInfoRatchetTreeTBE::new(view.group_info()[4..].to_vec(), tree, vec![pending]).unwrap();
    let bytes = tbe.encode().unwrap();
    assert_eq!(GroupInfoRatchetTreeTBE::decode(&bytes).unwrap(), tbe);
    let requester = HpkeKeyPair::generate().unwrap();
    let sealed = encrypt_with_label(
        &requester.public(),
        GROUP_INFO_ENCRYPTION_LABEL,
        ROOM.as_bytes(),
        &bytes,
    )
    .unwrap();

    // The requester: the room ID is the context; another room's does not open.
    let e = decrypt_with_label(
        &requester.private(),
        GROUP_INFO_ENCRYPTION_LABEL,
        b"mimi://a.example/r/other",
        &sealed,
    );
    assert!(matches!(e, Err(HpkeError::Open { .. })));
    let opened = decrypt_with_label(
        &requester.private(),
        GROUP_INFO_ENCRYPTION_LABEL,
        ROOM.as_bytes(),
        &sealed,
    )
    .unwrap();
    let got = GroupInfoRatchetTreeTBE::decode(&opened).unwrap();
    assert_eq!(got.pending_proposals[0].proposal, remove);
    assert_eq!(got.pending_proposals[0].hub_accepted_time, 1_700_000_000_000);
    let group_info = [&[0, 1, 0, 4][..], &got.group_info].concat();
    let tablet = Client::new("mimi://a.example/d/alice/tablet", SignatureKeyPair::generate());
    let tree = got.ratchet_tree_option.ratchet_tree.unwrap();
    let (_joined, out) = tablet.join_external(&group_info, &tree).unwrap();
    let report = view.process(&out.commit, Some(&out.group_info), None).unwrap();
    assert_eq!(report.external_join.unwrap().0, "mimi://a.example/d/alice/tablet");
    view.merge().unwrap();
    assert_eq!(view.epoch(), 1);
}

#[test]
fn tbe_decoding_is_strict() {
    let (group, _) = alices_group();
    let group_info = group.export_group_info().unwrap()[4..].to_vec();
    let tree = RatchetTreeOption::new(RatchetTreeRepresentation::DistributionService, None, None, None).unwrap();
    let tbe = GroupInfoRatchetTreeTBE::new(group_info.clone(), tree.clone(), vec![]).unwrap();
    // groupInfo || representation(4) || pending_proposals<V> = 0.
    assert_eq!(tbe.encode().unwrap(), [group_info.as_slice(), &[4, 0]].concat());

    // The MLSMessage instead of the bare GroupInfo; a truncated and a padded body.
    // The 4-byte header can itself read as the start of a GroupInfo (version 1,
    // cipher_suite 4), so the error may name a later field.
    let framed = group.export_group_info().unwrap();
    decode_error(
        GroupInfoRatchetTreeTBE::new(framed, tree.clone(), vec![]).unwrap_err(),
        "GroupInfoRatchetTreeTBE.",
    );
    let bytes = tbe.encode().unwrap();
    decode_error(
        GroupInfoRatchetTreeTBE::decode(&bytes[..bytes.len() - 1]).unwrap_err(),
        "pending_proposals",
    );
    decode_error(
        GroupInfoRatchetTreeTBE::decode(&[bytes.as_slice(), &[0]].concat()).unwrap_err(),
        "trailing",
    );

    // A pending proposal must be a proposal MLSMessage.
    let commit_like = group.export_group_info().unwrap();
    decode_error(
        PendingProposal::new(commit_like, 1).unwrap_err(),
        "PendingProposal.proposal",
    );
}

#[test]
fn credentials_and_external_sender() {
    let credential = basic_credential("mimi://a.example/d/alice/phone").unwrap();
    assert_eq!(&credential[..3], &[0, 1, 30]);
    assert_eq!(
        basic_credential_identity(&credential).unwrap(),
        "mimi://a.example/d/alice/phone"
    );
    // x509(2) names no identity here.
    decode_error(
        basic_credential_identity(&[0, 2, 0]).unwrap_err(),
        "Credential.credential_type",
    );
    decode_error(
        basic_credential_identity(&[&credential[..], &[0]].concat()).unwrap_err(),
        "trailing",
    );

    let key = SignatureKeyPair::generate().public();
    let sender = ExternalSender::new(key.clone(), "mimi://a.example".into()).unwrap();
    let bytes = sender.encode().unwrap();
    assert_eq!(
        bytes,
        [&[32][..], &key, &basic_credential("mimi://a.example").unwrap()].concat()
    );
    assert_eq!(ExternalSender::decode(&bytes).unwrap(), sender);
    decode_error(
        ExternalSender::decode(&bytes[..bytes.len() - 1]).unwrap_err(),
        "ExternalSender.credential",
    );
}
