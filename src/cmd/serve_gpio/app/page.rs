//! The HTML the browser sees: the pin page and the error page. Plain HTML forms only, so
//! every control works with JavaScript off (lab L12); stable ids (`pin13-state`,
//! `pin13-on`, …) so a browser test can find them; every dynamic string escaped.

use std::fmt::Write;
use std::sync::OnceLock;

use base64::Engine as _;

use super::{Refusal, escape_html, on_off, respond};
use crate::gpio::{PinConfig, PinMode};
use crate::http::server::{Response, reason_phrase};

/// The media type of every page.
pub(super) const HTML_TYPE: &str = "text/html; charset=utf-8";

/// Small enough to read, big enough to tap on a phone.
const STYLE: &str = "\
body{font-family:system-ui,sans-serif;margin:1rem auto;max-width:40rem;padding:0 1rem}\
ul{list-style:none;padding:0}\
li{border:1px solid #ccc;border-radius:.5rem;margin:.5rem 0;padding:.75rem}\
.name{font-weight:bold;font-size:1.2rem;margin-right:.5rem}\
.state{border-radius:1rem;color:#fff;font-weight:bold;padding:.2rem .8rem}\
.on .state{background:#1a7f37}.off .state{background:#6e7781}\
.meta,.timer{color:#57606a;font-size:.9rem;margin-left:.5rem}\
input[type=text]{font-size:1rem;padding:.3rem;width:3rem}label,.timer{white-space:nowrap}\
input[type=range]{vertical-align:middle;width:12rem}\
form{margin-top:.5rem}\
button{font-size:1rem;margin:.2rem .4rem .2rem 0;min-width:4.5rem;padding:.5rem}\
fieldset{border:1px solid #ccc;border-radius:.5rem}\
select{font-size:1rem;padding:.3rem}\
.note{background:#fff8c5;padding:.5rem}.count{color:#57606a;font-size:.8rem}";

/// The page's one script: it follows `/api/events` and updates each pin's state and the
/// counter in place. Without it (JavaScript off, or no `EventSource`) every form works the
/// same; the page is just not live. It marks the page `data-live` once the stream is open.
const LIVE_SCRIPT: &str = "(function(){\
if(!window.EventSource)return;\
function $(id){return document.getElementById(id);}\
var ticks={};\
function timer(pin,t){\
var el=$('pin'+pin+'-timer');if(!el)return;clearInterval(ticks[pin]);\
if(!t){el.textContent='';return;}\
var end=Date.now()+t.seconds_left*1000;\
function tick(){var s=Math.max(0,Math.ceil((end-Date.now())/100)/10);\
el.textContent='\\u2192 '+t.to+' in '+s+' s';}\
tick();ticks[pin]=setInterval(tick,100);}\
Array.prototype.forEach.call(document.querySelectorAll('input[type=range]'),function(r){\
var pin=r.form.elements.pin.value,o=$('pin'+pin+'-duty-out');\
r.addEventListener('input',function(){if(o)o.textContent=r.value+' %';});\
r.addEventListener('change',function(){\
fetch('/api/pins/'+pin,{method:'POST',headers:{'Content-Type':'application/json'},\
body:JSON.stringify({duty:+r.value})}).catch(function(){r.form.submit();});});});\
var es=new EventSource('/api/events');\
es.onopen=function(){document.body.setAttribute('data-live','1');};\
es.onerror=function(){document.body.removeAttribute('data-live');};\
es.onmessage=function(m){\
var d=JSON.parse(m.data),li=$('pin'+d.pin),st=$('pin'+d.pin+'-state'),c=$('count');\
if(li)li.className='pin '+d.state;\
if(st)st.textContent=d.state;\
timer(d.pin,d.timer);\
var r=$('pin'+d.pin+'-duty'),o=$('pin'+d.pin+'-duty-out');\
if(r&&d.duty!=null&&document.activeElement!==r){r.value=d.duty;if(o)o.textContent=d.duty+' %';}\
if(c&&d.requests)c.textContent='Hello #'+d.requests+' (requests served since start)';\
};})();";

/// The Content-Security-Policy of every response: the page needs nothing but its inline
/// style, the script above (allowed by its SHA-256), its own event stream and forms; no one
/// may frame it (a control panel is a clickjacking target).
pub(super) fn csp() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        let hash = ring::digest::digest(&ring::digest::SHA256, LIVE_SCRIPT.as_bytes());
        let hash = base64::engine::general_purpose::STANDARD.encode(hash.as_ref());
        format!(
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{hash}'; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        )
    })
}

/// One pin as the page shows it.
pub(super) struct PinView<'a> {
    pub config: PinConfig,
    pub on: bool,
    pub name: Option<&'a str>,
    /// A running timer: the state it switches to, and in how many seconds.
    pub timer: Option<(bool, f64)>,
    /// A PWM pin's duty cycle.
    pub duty: Option<u8>,
}

impl PinView<'_> {
    /// "LED (GPIO13)", or "GPIO13" for a pin without a name.
    fn label(&self) -> String {
        label(self.config.pin, self.name)
    }
}

/// "LED (GPIO13)", or "GPIO13" without a name.
fn label(pin: u32, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("{} (GPIO{pin})", escape_html(name)),
        None => format!("GPIO{pin}"),
    }
}

/// The pin page up to its request counter: each pin with its state and, unless read-only,
/// its buttons and a "for [ ] seconds" field; then a form that sets a chosen pin (the
/// lab's select, radio and text elements). It depends only on the pins, so it is kept
/// until one changes.
/// With `simulated` pins, each input is a simulated button the page can press.
pub(super) fn render_pins(states: &[PinView], read_only: bool, simulated: bool) -> String {
    let mut html = head("GPIO pins");
    html.push_str("<h1>GPIO pins</h1>\n");
    if read_only {
        html.push_str("<p class=\"note\" id=\"read-only\">Read-only: changes are refused.</p>\n");
    }
    html.push_str("<ul id=\"pins\">\n");
    for view in states {
        pin_item(&mut html, view, read_only, simulated);
    }
    html.push_str("</ul>\n");
    let outputs: Vec<(u32, String)> = states
        .iter()
        .filter(|v| v.config.mode.is_output())
        .map(|v| (v.config.pin, v.label()))
        .collect();
    if !read_only && !outputs.is_empty() {
        set_form(&mut html, &outputs);
    }
    html
}

/// Ends a page from [`render_pins`] with the lab's "Hello #N" counter.
pub(super) fn finish(html: &mut String, requests: u64) {
    let _ = writeln!(
        html,
        "<p class=\"count\" id=\"count\">Hello #{requests} (requests served since start)</p>"
    );
    let _ = writeln!(html, "<script>{LIVE_SCRIPT}</script>");
    html.push_str("</body>\n</html>\n");
}

/// The "for [ ] s" text field of a form (the lab's text element), with an id.
fn for_field(html: &mut String, id: &str) {
    let _ = write!(
        html,
        " <label>for <input type=\"text\" id=\"{id}\" name=\"for\" inputmode=\"decimal\" \
         size=\"4\" placeholder=\"0\"> s</label>"
    );
}

/// The count-down text of a timer: "→ off in 4.5 s".
fn timer_text(timer: Option<(bool, f64)>) -> String {
    timer.map_or(String::new(), |(to, left)| {
        format!("\u{2192} {} in {left} s", on_off(to))
    })
}

fn pin_item(html: &mut String, view: &PinView, read_only: bool, simulated: bool) {
    let config = view.config;
    let pin = config.pin;
    let state = on_off(view.on);
    let button = simulated && config.mode == PinMode::Input;
    let mut meta = vec![config.mode.as_str()];
    if config.active_low {
        meta.push("active-low");
    }
    if button {
        meta.push("simulated button");
    }
    let _ = writeln!(
        html,
        "<li class=\"pin {state}\" id=\"pin{pin}\">\
         <span class=\"name\">{}</span> \
         <span class=\"state\" id=\"pin{pin}-state\">{state}</span>\
         <span class=\"meta\">{}</span> <span class=\"timer\" id=\"pin{pin}-timer\">{}</span>",
        view.label(),
        escape_html(&meta.join(", ")),
        timer_text(view.timer)
    );
    if let (Some(duty), false) = (view.duty, read_only) {
        duty_form(html, pin, duty);
    }
    if !read_only && (config.mode.is_output() || button) {
        let (on, off) = if button {
            ("Press", "Release")
        } else {
            ("On", "Off")
        };
        let _ = write!(
            html,
            "<form method=\"post\" action=\"/\">\
             <input type=\"hidden\" name=\"pin\" value=\"{pin}\">\
             <button type=\"submit\" id=\"pin{pin}-on\" name=\"state\" value=\"on\">{on}</button>\
             <button type=\"submit\" id=\"pin{pin}-off\" name=\"state\" value=\"off\">{off}</button>\
             <button type=\"submit\" id=\"pin{pin}-toggle\" name=\"state\" value=\"toggle\">\
             Toggle</button>"
        );
        for_field(html, &format!("pin{pin}-for"));
        html.push_str("</form>\n");
    }
    html.push_str("</li>\n");
}

/// The brightness slider of a PWM pin (the lab's range element): a form of its own, sent
/// with its button, or by the page's script as the slider moves.
fn duty_form(html: &mut String, pin: u32, duty: u8) {
    let _ = writeln!(
        html,
        "<form method=\"post\" action=\"/\" class=\"duty\">\
         <input type=\"hidden\" name=\"pin\" value=\"{pin}\">\
         <label for=\"pin{pin}-duty\">Duty</label> \
         <input type=\"range\" id=\"pin{pin}-duty\" name=\"duty\" min=\"0\" max=\"100\" \
         step=\"1\" value=\"{duty}\"> \
         <output id=\"pin{pin}-duty-out\" for=\"pin{pin}-duty\">{duty} %</output> \
         <button type=\"submit\" id=\"pin{pin}-set-duty\">Set</button></form>"
    );
}

fn set_form(html: &mut String, outputs: &[(u32, String)]) {
    html.push_str(
        "<form method=\"post\" action=\"/\" id=\"set\"><fieldset><legend>Set a pin</legend>\n\
         <label for=\"set-pin\">Pin</label> <select id=\"set-pin\" name=\"pin\">",
    );
    for (pin, label) in outputs {
        let _ = write!(html, "<option value=\"{pin}\">{label}</option>");
    }
    html.push_str("</select>\n");
    for (state, label, checked) in [
        ("on", "On", " checked"),
        ("off", "Off", ""),
        ("toggle", "Toggle", ""),
    ] {
        let _ = writeln!(
            html,
            "<label><input type=\"radio\" id=\"set-{state}\" name=\"state\" \
             value=\"{state}\"{checked}> {label}</label>"
        );
    }
    for_field(html, "set-for");
    html.push_str(" <button type=\"submit\" id=\"set-submit\">Set</button></fieldset></form>\n");
}

fn head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape_html(title)
    )
}

/// A page that says what went wrong, with a way back, under the refusal's status.
pub(super) fn error(refusal: &Refusal) -> Response {
    let mut html = head("nicksock: error");
    let _ = writeln!(
        html,
        "<h1>{} {}</h1>\n<p id=\"error\">{}</p>\n<p><a href=\"/\">Back to the pins</a></p>\n\
         </body>\n</html>",
        refusal.status,
        reason_phrase(refusal.status),
        escape_html(&refusal.message)
    );
    respond(refusal.status, HTML_TYPE, html.into_bytes())
}
