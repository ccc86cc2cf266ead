package calendar

// pageHTML is the page: one file, inline style, no script.
const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{{if .Refresh}}<meta http-equiv="refresh" content="{{.RefreshSeconds}}">{{end}}
<title>primetime calendar</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:80em}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}
table{border-collapse:collapse;margin:.4em 0}th,td{padding:.2em .7em;text-align:left;border-bottom:1px solid #ddd;vertical-align:top}
th{font-weight:600;background:#f4f4f4}.muted{color:#666}
.state{font-weight:700;padding:.1em .5em;border-radius:.3em;background:#eee}
.state-pre-scaling{background:#fff3c4}.state-on-air{background:#ffd0d0}.state-cooldown,.state-stepping-down{background:#d8ecff}.state-quiet{background:#e2f5e2}
.error{color:#a00}.warning{color:#8a5a00}
textarea{width:100%;font-family:monospace;font-size:.9em}
li{margin:.2em 0;font-family:monospace;white-space:pre-wrap}
</style>
</head>
<body>
<h1>primetime calendar</h1>
<p class="muted">Now: {{.Now}}. {{plural .Targets "target"}}, {{plural .Windows "window"}} in force; windows listed until {{.Until}}. Read-only{{if .Refresh}}; this page reloads every {{.RefreshSeconds}} s{{end}}.</p>
{{if .PasteError}}<p class="error" id="paste-error">{{.PasteError}}</p>{{end}}
{{with .Paste}}
<section id="check">
<h2>Your paste</h2>
{{if .Empty}}<p>Nothing was pasted.</p>{{else}}
{{if .Problems}}<p id="verdict" class="{{if .Errors}}error{{else}}warning{{end}}">{{if .Errors}}{{plural .Errors "problem"}}: a window with an error is ignored until it is fixed; the others apply.{{else}}No error; {{plural .Warnings "warning"}}: the windows apply, but check these.{{end}}</p>
<ul id="problems">{{range .Problems}}<li class="problem {{if .Warning}}warning{{else}}error{{end}}" data-line="{{.Line}}">{{.Text}}</li>{{end}}</ul>
{{else}}<p id="verdict">ok: {{plural .Windows "window"}}, no problem.</p>{{end}}
{{if .Plans}}<h2>What primetime would do (until {{.Until}})</h2>
{{range .Plans}}{{template "plan" .}}{{end}}
{{if .PlansMore}}<p class="muted">and {{.PlansMore}} more targets.</p>{{end}}
{{else if .Windows}}<p class="muted">None of the pasted windows selects a target primetime knows.</p>{{end}}
{{end}}
<p class="muted">Nothing you paste is stored or applied.</p>
</section>
{{end}}
{{range .TargetViews}}
<section class="target" id="{{.Key}}">
<h2>{{.Heading}}</h2>
<p>Now: <span class="state {{stateClass .State}}" data-state="{{.State}}">{{.State}}</span>{{if .StateDetail}} <span class="detail">{{.StateDetail}}</span>{{end}}{{if .Desired}} <span class="muted">— primetime asks for {{.Desired}} replicas</span>{{end}}</p>
{{template "plan" .}}
{{if .Advice}}<p class="advice">{{.Advice}}</p>{{end}}
{{if .Usual}}<p class="muted">Floors of windows like 5x are shown for the usual load {{.Usual}}; each one is fixed when its pre-scaling starts.</p>{{end}}
{{if .Past}}<h3>Past windows</h3>
<table class="past"><tr><th>window</th><th>on air</th><th>expected</th><th>report</th></tr>
{{range .Past}}<tr><td>{{.Window}}</td><td>{{.When}}</td><td>{{.Expect}}</td><td>{{.Report}}</td></tr>{{end}}
</table>{{if .PastMore}}<p class="muted">and {{.PastMore}} more.</p>{{end}}{{end}}
</section>
{{else}}<p>{{if .Namespace}}No target in namespace {{.Namespace}}.{{else}}No targets yet: the SREs add them in ConfigMaps labelled primetime.dev/targets.{{end}}</p>
{{end}}
{{if .TargetsMore}}<p class="muted" id="targets-more">and {{plural .TargetsMore "more target"}}: add ?namespace=NAME to the address to see one namespace.</p>{{end}}
<section id="paste">
<h2>Check a windows file</h2>
<form method="post" action="calendar">
<p><label for="windows">Paste a windows file (or a ConfigMap holding one): primetime shows what <code>lint</code> and <code>plan</code> say of it, against the targets above.</label></p>
<textarea id="windows" name="windows" rows="16" spellcheck="false">{{.Pasted}}</textarea>
<p><button type="submit" id="check-button">Check</button></p>
</form>
</section>
</body>
</html>
{{define "plan"}}{{if .Coming}}<table class="coming"><tr><th>window</th><th>kind</th><th>pre-scaling from</th><th>lead</th><th>on air</th><th>floor</th><th>cooldown</th><th>released</th></tr>
{{range .Coming}}<tr><td class="window">{{.Windows}}</td><td>{{.Kind}}</td><td>{{.From}}</td><td>{{.Lead}}</td><td>{{.OnAir}}</td><td class="floor">{{.Floor}}</td><td>{{.Cooldown}}</td><td>{{.Until}}</td></tr>{{end}}
</table>{{if .ComingMore}}<p class="muted">and {{.ComingMore}} more.</p>{{end}}{{else if not .Cut}}<p class="muted">No window in the coming days.</p>{{end}}{{if .Cut}}<p class="muted cut">{{.Cut}}</p>{{end}}{{end}}
`
