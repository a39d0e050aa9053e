//! Panics after printing a line: the run must end with a failure status and keep both
//! the line printed before and the panic message.

fn main() {
    println!("about to panic");
    let answer = std::env::args().count() + 41;
    panic!("kiln test panic: the answer is {answer}");
}
