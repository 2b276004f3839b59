//! Unit tests of the wire structs (hand-built bytes; no openmls groups).

use super::*;

/// A PrivateMessage (RFC 9420 §6.3) with the given content type: parses, not decryptable.
pub(crate) fn private_message(content_type: u8) -> Vec<u8> {
    let mut m = vec![0, 1, 0, 2, 1, b'g'];
    m.extend_from_slice(&7u64.to_be_bytes());
    m.extend_from_slice(&[content_type, 0, 2, 0xaa, 0xbb, 1, 0xcc]);
    m
}

#[test]
fn fanout_application_known_bytes() {
    let msg = private_message(1);
    let frank = Frank::new(&[9; 32], 1, vec![5, 6]).unwrap();
    let m = FanoutMessage::new(1000, msg.clone(), Some(frank), None, vec![]).unwrap();
    let mut want = 1000u64.to_be_bytes().to_vec();
    want.extend_from_slice(&msg);
    want.push(1);
    want.extend_from_slice(&[9; 32]);
    want.extend_from_slice(&[0, 1, 2, 5, 6]);
    assert_eq!(m.encode().unwrap(), want);
    assert_eq!(FanoutMessage::decode(&want).unwrap(), m);
    let two = encode_notify(&[m.clone(), m.clone()]).unwrap();
    assert_eq!(decode_notify(&two).unwrap(), vec![m.clone(), m]);
}

#[test]
fn strict_decoding_names_the_field() {
    let msg = private_message(1);
    let mut body = 5u64.to_be_bytes().to_vec();
    body.extend_from_slice(&msg);
    body.push(0);
    assert!(FanoutMessage::decode(&body).is_ok());
    let mut trailing = body.clone();
    trailing.push(0);
    let e = FanoutMessage::decode(&trailing).unwrap_err().to_string();
    assert!(e.contains("trailing"), "{e}");
    let e = FanoutMessage::decode(&body[..5]).unwrap_err().to_string();
    assert!(e.contains("FanoutMessage.timestamp"), "{e}");
    let mut bad_flag = body.clone();
    *bad_flag.last_mut().unwrap() = 2;
    let e = FanoutMessage::decode(&bad_flag).unwrap_err().to_string();
    assert!(e.contains("FanoutMessage.frank"), "{e}");
}

#[test]
fn fields_must_match_the_kind() {
    let e = FanoutMessage::new(1, private_message(1), None, None, vec![private_message(2)]).unwrap_err();
    assert!(e.to_string().contains("application"), "{e}");
    let e = SubmitMessageResponse::new(SubmitResponseCode::Accepted, None, None, None).unwrap_err();
    assert!(e.to_string().contains("accepted_timestamp"), "{e}");
}

#[test]
fn varint_must_be_minimal() {
    let mut r = Reader::new("T", &[0x40, 0x05]);
    assert!(r.varint("f").unwrap_err().to_string().contains("non-minimal"));
    let mut r = Reader::new("T", &[0xc0]);
    assert!(r.varint("f").unwrap_err().to_string().contains("reserved"));
    let mut r = Reader::new("T", &[0x7b, 0xbd]);
    assert_eq!(r.varint("f").unwrap(), 15293);
}

#[test]
fn key_material_request_signs_its_tbs() {
    let key = crate::SignatureKeyPair::generate();
    let credential = [&[0u8, 1, 5][..], b"mimi:"].concat();
    let req = KeyMaterialRequest::new(
        "a".into(),
        "b".into(),
        "r".into(),
        vec![1],
        vec![0, 0, 0],
        key.public(),
        credential,
        vec![],
    )
    .unwrap()
    .signed(&key)
    .unwrap();
    req.verify().unwrap();
    let bytes = req.encode().unwrap();
    assert!(bytes.starts_with(&req.tbs().unwrap()));
    assert_eq!(KeyMaterialRequest::decode(&bytes).unwrap(), req);
}

#[test]
fn update_response_known_bytes() {
    let r = UpdateResponse::new(UpdateResponseCode::WrongEpoch, "e".into(), None, Some(4), vec![]).unwrap();
    let mut want = vec![1, 1, b'e'];
    want.extend_from_slice(&4u64.to_be_bytes());
    assert_eq!(r.encode().unwrap(), want);
    let e = UpdateResponse::decode(&[9, 0]).unwrap_err().to_string();
    assert!(e.contains("UpdateRoomResponse.responseCode: unknown UpdateResponseCode value 9"), "{e}");
}

#[test]
fn read_submissions_stamps_each_body_and_isolates_bad_ones() {
    use sha2::{Digest, Sha256};
    let msg = private_message(1);
    let body = SubmitMessageRequest::new(msg.clone(), "mimi://x.example/u/alice".into()).unwrap().encode().unwrap();
    let mut trailing = body.clone();
    trailing.push(0);
    let handshake = [&[PROTOCOL_MLS10][..], &private_message(2), &[3, b'u', b'r', b'i']].concat();
    let read = read_submissions(&[body.clone(), trailing, b"".to_vec(), handshake, body], 1000);
    assert_eq!(read.len(), 5);
    for (i, timestamp) in [(0, 1000), (4, 1004)] {
        let got = read[i].as_ref().unwrap();
        assert_eq!(got.group_id, b"g");
        assert_eq!(got.epoch, 7);
        assert_eq!(got.digest[..], Sha256::digest(&msg)[..]);
        assert_eq!(got.sending_uri, "mimi://x.example/u/alice");
        let fanout = FanoutMessage::new(timestamp, msg.clone(), None, None, vec![]).unwrap();
        assert_eq!(got.fanout, fanout.encode().unwrap());
        let accepted = SubmitMessageResponse::new(SubmitResponseCode::Accepted, Some(timestamp), None, None).unwrap();
        assert_eq!(got.accepted, accepted.encode().unwrap());
    }
    let e = read[1].as_ref().unwrap_err().to_string();
    assert!(e.contains("trailing"), "{e}");
    assert!(read[2].is_err());
    let e = read[3].as_ref().unwrap_err().to_string();
    assert!(e.contains("SubmitMessageRequest.appMessage"), "{e}");
    assert!(read_submissions(&[b"x"], u64::MAX - 1).iter().all(|r| r.is_err()));
    assert!(read_submissions::<Vec<u8>>(&[], 0).is_empty());
}
