// WebView: `strata ui`, a read-only web view of a version log (docs/web-view.md): the version DAG,
// one version, versions side by side, a per-tensor diff and metric curves per branch, and a JSON
// API whose answers are the `strata --json` verbs' own.
//
// The log is opened read-only anew for every request, so the view works while a run writes and
// shows new versions on the next request. GET and HEAD only; every asset is served
// from the binary; every string from the log is escaped.
#pragma once

#include <memory>
#include <string>

namespace strata::tools {

struct WebViewOptions {
  std::string log_dir;
  std::string host = "127.0.0.1";  // this machine only
  int port = 8081;                 // 0: any free port (port() tells)
};

class WebView {
 public:
  explicit WebView(WebViewOptions options);  // kNotFound when no log is there
  ~WebView();
  WebView(const WebView&) = delete;
  WebView& operator=(const WebView&) = delete;

  void start();  // binds (kIOError when it cannot) and serves on a background thread
  int port() const;
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata::tools
