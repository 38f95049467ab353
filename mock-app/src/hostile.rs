//! What a hostile user's code would try inside its instance, so tests can check the limits hold:
//! `mock-app alloc <MiB>` and `mock-app spawn <n>`.

use std::io::Write;
use std::process::{Child, Command, ExitCode};
use std::time::Duration;

/// Allocates and touches `mib` MiB, printing progress; a memory limit kills it on the way.
pub fn alloc(mib: usize) -> ExitCode {
    let mut blocks: Vec<Vec<u8>> = Vec::with_capacity(mib);
    for i in 1..=mib {
        let mut block = vec![0u8; 1 << 20];
        for byte in block.iter_mut().step_by(4096) {
            *byte = 1;
        }
        blocks.push(block);
        if i % 16 == 0 || i == mib {
            println!("allocated {i} MiB");
            let _ = std::io::stdout().flush();
        }
    }
    ExitCode::SUCCESS
}

/// Starts up to `n` processes (this binary, sleeping), prints how many the kernel allowed, then
/// ends them.
pub fn spawn(n: usize) -> ExitCode {
    let exe = std::env::current_exe().unwrap_or_else(|_| "/mock-app".into());
    let mut children: Vec<Child> = Vec::new();
    for _ in 0..n {
        match Command::new(&exe).arg("sleep").spawn() {
            Ok(child) => children.push(child),
            Err(e) => {
                eprintln!("spawn refused after {}: {e}", children.len());
                break;
            }
        }
    }
    println!("started {}", children.len());
    for mut child in children {
        let _ = child.kill();
        let _ = child.wait();
    }
    ExitCode::SUCCESS
}

pub fn sleep() -> ExitCode {
    std::thread::sleep(Duration::from_secs(60));
    ExitCode::SUCCESS
}
