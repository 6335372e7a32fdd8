// The E2B workflow through the official JavaScript SDKs, unmodified: what each step gave is
// printed as one JSON object for the Rust test to check. E2B_API_KEY, E2B_API_URL and
// E2B_SANDBOX_URL point at the daemon; OTHER_API_KEY is a second key (another tenant).
import { Sandbox } from '@e2b/code-interpreter'
import { CommandExitError } from 'e2b'

const other = process.env.OTHER_API_KEY
const out = {}
const failure = async (call) => {
  try {
    await call()
  } catch (e) {
    return e.constructor.name
  }
  return null
}

const sbx = await Sandbox.create()
out.sandbox_id = sbx.sandboxId
await sbx.runCode('x = 41')
out.x_plus_1 = (await sbx.runCode('x + 1')).text
const plot = await sbx.runCode('import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()')
out.plot_png = plot.results.filter((r) => r.png).map((r) => r.png.slice(0, 8))
const frame = await sbx.runCode("import pandas as pd\npd.DataFrame({'a': [1, 2], 'b': [3, 4]})")
out.frame_html = frame.results.filter((r) => r.html).map((r) => r.html.includes('<table'))
const error = (await sbx.runCode('def f():\n    return 1 / 0\nf()')).error
out.error = { name: error.name, value: error.value, traceback: error.traceback }
out.js = (await sbx.runCode('const y = 20; y * 2 + 2', { language: 'js' })).text

await sbx.files.write('/home/user/a.txt', 'written by files')
out.read = await sbx.files.read('/home/user/a.txt')
out.echo = (await sbx.commands.run('echo hi')).stdout
try {
  await sbx.commands.run('echo oops >&2; exit 3')
  out.exit = null
} catch (e) {
  out.exit = e instanceof CommandExitError ? { code: e.exitCode, stderr: e.stderr } : e.constructor.name
}

const listed = async (opts) => (await Sandbox.list(opts).nextItems()).map((s) => s.sandboxId)
out.listed_by_owner = (await listed({})).includes(sbx.sandboxId)
out.listed_by_other = (await listed({ apiKey: other })).includes(sbx.sandboxId)
out.other_connect = await failure(() => Sandbox.connect(sbx.sandboxId, { apiKey: other }))
out.other_kill = await Sandbox.kill(sbx.sandboxId, { apiKey: other })

out.kill = await sbx.kill()
out.running_after_kill = await sbx.isRunning()
out.run_code_after_kill = await failure(() => sbx.runCode('1'))
out.command_after_kill = await failure(() => sbx.commands.run('echo hi'))
console.log(JSON.stringify(out))
// runCode's own timer (60 s) outlives the call that failed after kill: do not wait for it.
process.exit(0)
