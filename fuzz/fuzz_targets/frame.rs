//! A stream of length-prefixed frames, as a client or a daemon might send it: every frame
//! is read or refused, never a panic or an allocation the bytes did not pay for.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pm2_rs::protocol::{self, Request};

fuzz_target!(|data: &[u8]| {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        let mut raw = data;
        while let Ok(Some(frame)) = protocol::read_raw_frame_up_to(&mut raw, 1 << 20).await {
            let _ = protocol::is_event_frame(&frame);
            let _ = protocol::successful_result(&frame);
        }
        let mut typed = data;
        while let Ok(Some(_)) = protocol::read_frame::<_, Request>(&mut typed).await {}
    });
});
