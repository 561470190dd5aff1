//! Drives headless Chromium against a tiny hand-written HTTP server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use ygt_testkit::Browser;

const INDEX: &str = r#"<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>冒烟测试</title></head>
<body>
  <h1 id="heading">首页</h1>
  <p id="status">waiting</p>
  <button id="go" onclick="setTimeout(function () { document.getElementById('status').textContent = '已点击 clicked'; }, 200)">点我</button>
  <form id="f" onsubmit="return false"><input id="name" name="name" value="preset" data-kind="text"></form>
  <ul id="list"><li class="item">one</li><li class="item">two</li><li class="item">three</li></ul>
  <a id="next" href="/second">下一页</a>
</body></html>"#;

const SECOND: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Second</title></head>
<body><h1>第二页</h1></body></html>"#;

/// Serves INDEX at `/` and SECOND at `/second` until the test ends.
async fn serve() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let request = String::from_utf8_lossy(&buf);
                let path = request.split_whitespace().nth(1).unwrap_or("/");
                let (status, body) = match path {
                    "/" => ("200 OK", INDEX),
                    "/second" => ("200 OK", SECOND),
                    _ => ("404 Not Found", "not found"),
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn drives_a_page() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let base = serve().await;
    let result = scenario(&browser, &base).await;
    if let Err(e) = &result {
        let path = std::env::temp_dir().join("ygt-testkit-browser-smoke-failure.png");
        let _ = browser.save_screenshot(&path).await;
        eprintln!("screenshot saved to {}", path.display());
        panic!("browser scenario failed: {e}");
    }
    browser.quit().await;
}

async fn scenario(b: &Browser, base: &str) -> Result<(), ygt_testkit::BrowserError> {
    let wait = Duration::from_secs(10);
    b.goto(&format!("{base}/")).await?;
    assert_eq!(b.title().await?, "冒烟测试");
    assert_eq!(b.current_url().await?, format!("{base}/"));
    assert_eq!(b.find("#heading").await?.text().await?, "首页");

    // Browser language comes from --lang=zh-CN.
    let lang = b.execute("return navigator.language;", vec![]).await?;
    assert_eq!(lang, json!("zh-CN"));

    // JS-driven text change after a click.
    assert_eq!(b.find("#status").await?.text().await?, "waiting");
    b.find("#go").await?.click().await?;
    let status = b.wait_for_text("#status", "clicked", wait).await?;
    assert_eq!(status.text().await?, "已点击 clicked");

    // Inputs and attributes.
    let input = b.find("#name").await?;
    assert_eq!(input.attr("data-kind").await?.as_deref(), Some("text"));
    assert_eq!(input.attr("missing").await?, None);
    input.clear().await?;
    input.send_keys("张三").await?;
    assert_eq!(input.property("value").await?, json!("张三"));
    let via_js = b
        .execute("return arguments[0].value + '!';", vec![input.to_json()])
        .await?;
    assert_eq!(via_js, json!("张三!"));

    // find_all and find within an element.
    let items = b.find_all("#list .item").await?;
    assert_eq!(items.len(), 3);
    assert_eq!(items[1].text().await?, "two");
    let list = b.find("#list").await?;
    assert_eq!(list.find("li:last-child").await?.text().await?, "three");
    assert!(b.find_all(".nothing").await?.is_empty());

    // Errors carry the WebDriver error.
    let err = b.find("#does-not-exist").await.unwrap_err();
    assert!(err.is_no_such_element(), "{err}");
    assert!(err.to_string().contains("no such element"), "{err}");
    let err = b
        .wait_for("#never", Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ygt_testkit::BrowserError::Timeout { .. }),
        "{err}"
    );

    // Screenshots.
    b.set_window_size(800, 600).await?;
    let png = b.screenshot_png().await?;
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let shot =
        std::env::temp_dir().join(format!("ygt-testkit-smoke-{}/shot.png", std::process::id()));
    b.save_screenshot(&shot).await?;
    assert!(std::fs::metadata(&shot).unwrap().len() > 100);
    std::fs::remove_dir_all(shot.parent().unwrap()).unwrap();

    // Navigation through a link, then back.
    b.find("#next").await?.click().await?;
    b.wait_for_text("h1", "第二页", wait).await?;
    assert_eq!(b.current_url().await?, format!("{base}/second"));
    assert!(b.page_source().await?.contains("第二页"));
    b.back().await?;
    b.wait_for("#go", wait).await?;
    assert_eq!(b.title().await?, "冒烟测试");
    Ok(())
}

#[tokio::test]
async fn drop_cleans_up_without_quit() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let base = serve().await;
    browser.goto(&base).await.unwrap();
    assert_eq!(browser.title().await.unwrap(), "冒烟测试");
    drop(browser);
}
