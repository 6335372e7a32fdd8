use super::*;

#[test]
fn plain_code_is_left_alone() {
    for code in ["print(1)", "import numpy as np\nprint(np.array([1, 2]))\n", "{1, 2}", "{}", ""] {
        assert_eq!(unwrap_generated_code(code), code);
    }
}

#[test]
fn markdown_fences_are_unwrapped() {
    let cases = [
        ("```python\nprint('Hello from markdown')\n```", "print('Hello from markdown')\n"),
        ("```py\nx = 1\n```\n", "x = 1\n"),
        ("```\nprint(1)\n```", "print(1)\n"),
        ("  \n```Python3\r\nprint(1)\r\n```  \n", "print(1)\r\n"),
        ("Here you go:\n```python\na\nb\n```\nThis prints a then b.", "a\nb\n"),
        ("```python\nprint(1)\n", "print(1)\n"),
        ("```python\n```", ""),
    ];
    for (raw, code) in cases {
        assert_eq!(unwrap_generated_code(raw), code, "{raw:?}");
    }
}

#[test]
fn the_first_block_in_a_language_we_run_wins() {
    let raw = "Input:\n```json\n{\"a\": 1}\n```\nCode:\n```python\nfirst()\n```\n```python\nsecond()\n```";
    assert_eq!(fenced_block(raw), Some("first()\n"));
    // A tagged line inside a block is content, not a close.
    assert_eq!(fenced_block("```\nx\n```python\ny\n```"), Some("x\n```python\ny\n"));
    assert_eq!(fenced_block("```text\nnot code\n```"), None);
    assert_eq!(fenced_block("print('```')"), None);
    assert_eq!(fenced_block("x = 1 ```python\n"), None);
}

#[test]
fn dict_literals_are_unwrapped() {
    let cases = [
        (r#"{'generated_code': 'print("Hello from dict format")'}"#, r#"print("Hello from dict format")"#),
        (r#"{"generated_code": "print(1)\nprint(2)"}"#, "print(1)\nprint(2)"),
        (r"{'generated_code': 'for i in range(3):\n    print(i)'}", "for i in range(3):\n    print(i)"),
        (r"  {'language': 'python', 'generated_code': 'x = \'a\\b\''}  ", "x = 'a\\b'"),
        (r#"{"generated_code": "a\/b \ud83d\ude00"}"#, "a/b 😀"),
    ];
    for (raw, code) in cases {
        assert_eq!(unwrap_generated_code(raw), code, "{raw}");
    }
}

#[test]
fn fences_and_dicts_combine() {
    let fenced_dict = "```python\n{'generated_code': 'print(1)'}\n```";
    assert_eq!(unwrap_generated_code(fenced_dict), "print(1)");
    let dict_of_fence = r"{'generated_code': '```python\nprint(2)\n```'}";
    assert_eq!(unwrap_generated_code(dict_of_fence), "print(2)\n");
}

#[test]
fn unparsable_dicts_run_as_given() {
    for raw in [
        "{'generated_code': 'unterminated}",
        "{'other_key': 'print(1)'}",
        "{'generated_code': 42}",
        r#"{"generated_code": 42}"#,
        "{'generated_code': 'x'} + {}",
    ] {
        assert_eq!(unwrap_generated_code(raw), raw, "{raw}");
    }
}

#[test]
fn dialect_is_recognised_parsed_or_not() {
    assert!(is_dialect(&serde_json::json!({"generated_code": "x"})));
    assert!(is_dialect(&serde_json::json!({"generated_code": null})));
    assert!(!is_dialect(&serde_json::json!({"code": "x"})));
    assert!(!is_dialect(&serde_json::json!(["generated_code"])));
    assert!(mentions_dialect(br#"{"generated_code": "x", "timeout": }"#));
    assert!(!mentions_dialect(br#"{"code": "generated_code"#));
}
