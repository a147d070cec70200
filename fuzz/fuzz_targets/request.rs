//! One request frame's JSON body, as the daemon parses it: the shape check first, then the
//! typed request; a parsed request survives a round trip through the encoder.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pm2_rs::limits::{json_shape, MAX_JSON_DEPTH, MAX_REQUEST_VALUES};
use pm2_rs::protocol::{self, Request};

fuzz_target!(|body: &[u8]| {
    if json_shape(body, MAX_JSON_DEPTH, MAX_REQUEST_VALUES).is_err() {
        return;
    }
    if let Ok(req) = serde_json::from_slice::<Request>(body) {
        let frame = protocol::encode(&req);
        let back: Request = serde_json::from_slice(&frame[4..]).expect("an encoded request parses");
        assert_eq!(back.id, req.id);
        assert_eq!(back.method, req.method);
    }
});
