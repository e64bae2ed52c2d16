#include "tools/web/web_view.h"

#include <fmt/format.h>
#include <httplib.h>

#include <chrono>
#include <limits>
#include <thread>

#include "strata/framework/core/error.h"
#include "strata/versioning/version_log.h"
#include "tools/verbs/verbs.h"
#include "tools/web/assets.h"
#include "tools/web/html.h"
#include "tools/web/page_parts.h"
#include "tools/web/pages.h"

namespace strata::tools {
namespace {

using web::Params;

int http_status(const Error& e) {
  switch (e.code()) {
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kInvalidArgument:
      return 400;
    default:
      return 500;
  }
}

Params params_of(const httplib::Request& req) { return Params(req.params.begin(), req.params.end()); }

bool flag(const Params& p, const std::string& key) {
  auto it = p.find(key);
  return it != p.end() && (it->second == "1" || it->second == "true");
}

}  // namespace

struct WebView::Impl {
  WebViewOptions options;
  httplib::Server http;
  std::thread listener;
  int port = 0;

  std::unique_ptr<versioning::VersionLog> open() const {
    return versioning::VersionLog::open(options.log_dir, versioning::OpenMode::kReadOnly);
  }

  // A page from one read-only snapshot of the log; errors become an escaped error page.
  void html(httplib::Response& res, const std::function<std::string(const versioning::VersionLog&)>& render) const {
    try {
      res.set_content(render(*open()), "text/html; charset=utf-8");
    } catch (const Error& e) {
      error_page(res, http_status(e), e.what());
    } catch (const std::exception& e) {
      error_page(res, 500, e.what());
    }
  }
  static void error_page(httplib::Response& res, int status, const std::string& what) {
    res.status = status;
    res.set_content(web::page("error", "<h1>" + std::to_string(status) + "</h1><p class=\"error\">" + web::esc(what) + "</p>"),
                    "text/html; charset=utf-8");
  }

  // A JSON answer from the `strata --json` verb itself.
  void api(httplib::Response& res, const std::function<void(const GlobalOptions&)>& verb) const {
    std::string json;
    const GlobalOptions g{options.log_dir, true, &json};
    try {
      verb(g);
      res.set_content(json, "application/json");
    } catch (const Error& e) {
      res.status = http_status(e);
      res.set_content(fmt::format("{{\"error\":{},\"hint\":{}}}", json_str(e.what_failed()), json_str(e.hint())),
                      "application/json");
    } catch (const std::exception& e) {
      res.status = 500;
      res.set_content(fmt::format("{{\"error\":{},\"hint\":\"\"}}", json_str(e.what())), "application/json");
    }
  }

  void install_routes();

  bool host_allowed(const std::string& host_header) const {
    std::string name = host_header;
    if (!name.empty() && name.front() == '[') {  // [::1]:8081
      name = name.substr(0, name.find(']') + 1);
    } else if (size_t colon = name.rfind(':'); colon != std::string::npos) {
      name = name.substr(0, colon);
    }
    const bool any_address = options.host == "0.0.0.0" || options.host == "::";  // the user opened it to the network
    return any_address || name == "localhost" || name == "127.0.0.1" || name == "[::1]" || name == options.host;
  }
};

void WebView::Impl::install_routes() {
  // Read-only: GET and HEAD, nothing else.
  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    // DNS rebinding: a web page elsewhere may point a name of its own at 127.0.0.1 and read the
    // history through the visitor's browser. Only this machine's names, and --host, are answered.
    if (!host_allowed(req.get_header_value("Host"))) {
      res.status = 421;
      res.set_content("this view answers only requests to localhost, 127.0.0.1 or " + options.host + "\n", "text/plain");
      return httplib::Server::HandlerResponse::Handled;
    }
    // Debian's cpp-httplib compresses with brotli at quality 11 whenever a browser accepts it:
    // 6.7 s for the 3.6 MB page of 10,000 versions, against 0.5 s with gzip. Offer it gzip only.
    // (The request is the server's own non-const object, handed to handlers as const.)
    auto& headers = const_cast<httplib::Headers&>(req.headers);
    if (auto it = headers.find("Accept-Encoding"); it != headers.end() && it->second.find("gzip") != std::string::npos)
      it->second = "gzip";
    else if (it != headers.end())
      headers.erase(it);
    if (req.method == "GET" || req.method == "HEAD") return httplib::Server::HandlerResponse::Unhandled;
    res.status = 405;
    res.set_header("Allow", "GET, HEAD");
    res.set_content("method not allowed: this view is read-only\n", "text/plain");
    return httplib::Server::HandlerResponse::Handled;
  });
  http.set_post_routing_handler([](const httplib::Request&, httplib::Response& res) {
    res.set_header("Content-Security-Policy",
                   "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
                   "base-uri 'none'; frame-ancestors 'none'; form-action 'none'");
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Referrer-Policy", "no-referrer");
    res.set_header("Cache-Control", "no-store");
  });
  http.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    res.set_content(web::page("not found", "<h1>" + std::to_string(res.status) + "</h1><p>nothing here</p>"),
                    "text/html; charset=utf-8");
  });
  http.Get("/", [this](const httplib::Request& req, httplib::Response& res) {
    html(res, [&](const versioning::VersionLog& log) { return web::dag_page(log, params_of(req)); });
  });
  http.Get(R"(/v/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
    html(res, [&](const versioning::VersionLog& log) { return web::version_page(log, req.matches[1]); });
  });
  http.Get("/compare", [this](const httplib::Request& req, httplib::Response& res) {
    html(res, [&](const versioning::VersionLog& log) { return web::compare_page(log, params_of(req)); });
  });
  http.Get("/diff", [this](const httplib::Request& req, httplib::Response& res) {
    html(res, [&](const versioning::VersionLog& log) { return web::diff_page(log, params_of(req)); });
  });
  http.Get("/curves", [this](const httplib::Request& req, httplib::Response& res) {
    html(res, [&](const versioning::VersionLog& log) { return web::curves_page(log, options.log_dir, params_of(req)); });
  });
  http.Get(R"(/assets/([a-z.]+))", [](const httplib::Request& req, httplib::Response& res) {
    const web::Asset* asset = web::find_asset(req.matches[1]);
    if (!asset) {
      res.status = 404;
      return;
    }
    res.set_content(*asset->body, asset->content_type);
  });
  // The JSON API: the answers of `strata log/show/diff/compare/log --tensor --json`.
  http.Get("/api/log", [this](const httplib::Request& req, httplib::Response& res) {
    const Params p = params_of(req);
    api(res,
        [&](const GlobalOptions& g) { cmd_log(g, web::str_param(p, "ref"), flag(p, "all"), flag(p, "graph"), std::nullopt); });
  });
  http.Get("/api/show", [this](const httplib::Request& req, httplib::Response& res) {
    const Params p = params_of(req);
    api(res, [&](const GlobalOptions& g) { cmd_show(g, web::str_param(p, "v"), flag(p, "tensors"), flag(p, "graph")); });
  });
  http.Get("/api/diff", [this](const httplib::Request& req, httplib::Response& res) {
    const Params p = params_of(req);
    api(res, [&](const GlobalOptions& g) {
      cmd_diff(g, web::str_param(p, "a"), web::str_param(p, "b"), 0.0, std::numeric_limits<size_t>::max());
    });
  });
  http.Get("/api/compare", [this](const httplib::Request& req, httplib::Response& res) {
    const Params p = params_of(req);
    api(res, [&](const GlobalOptions& g) { cmd_compare(g, web::list_param(p, "v"), web::list_param(p, "metric")); });
  });
  http.Get("/api/tensor", [this](const httplib::Request& req, httplib::Response& res) {
    const Params p = params_of(req);
    api(res, [&](const GlobalOptions& g) { cmd_log_tensor(g, web::str_param(p, "ref"), web::str_param(p, "name")); });
  });
}

WebView::WebView(WebViewOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->open();  // a clear error now (no log there) rather than on every page
  impl_->install_routes();
}

WebView::~WebView() { stop(); }

void WebView::start() {
  Impl& i = *impl_;
  i.port = i.options.port == 0 ? i.http.bind_to_any_port(i.options.host)
                               : (i.http.bind_to_port(i.options.host, i.options.port) ? i.options.port : -1);
  if (i.port <= 0)
    throw Error(ErrorCode::kIOError, "cannot listen on " + i.options.host + ":" + std::to_string(i.options.port), "",
                "choose another --port, or stop what uses it");
  i.listener = std::thread([&i] { i.http.listen_after_bind(); });
  // stop() right after start() must find the server running, or its join would wait forever.
  for (int k = 0; k < 5000 && !i.http.is_running(); ++k) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

int WebView::port() const { return impl_->port; }

void WebView::stop() {
  if (!impl_->listener.joinable()) return;
  impl_->http.stop();
  impl_->listener.join();
}

}  // namespace strata::tools
