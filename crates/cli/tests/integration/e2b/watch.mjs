// A directory watch through the official JavaScript SDK, unmodified: `watchDir` is a server
// stream of events (recursive or not) that ends when stopped. Prints one JSON object.
import { Sandbox } from 'e2b'

const out = {}
const sbx = await Sandbox.create()
await sbx.files.makeDir('/home/user/w/sub')
const flat = []
const deep = []
const flatHandle = await sbx.files.watchDir('/home/user/w', (e) => flat.push([e.name, e.type]))
const deepHandle = await sbx.files.watchDir('/home/user/w', (e) => deep.push([e.name, e.type]), { recursive: true })
await sbx.files.write('/home/user/w/a.txt', 'one')
await sbx.commands.run('cd /home/user/w && echo deep > sub/c.txt && rm a.txt')
await new Promise((r) => setTimeout(r, 500))
await flatHandle.stop()
await sbx.files.write('/home/user/w/after-stop.txt', 'x')
await new Promise((r) => setTimeout(r, 300))
await deepHandle.stop()
out.flat = flat
out.deep = deep
try {
  await sbx.files.watchDir('/home/user/missing', () => {})
  out.missing = 'watched'
} catch (e) {
  out.missing = e.name
}
await sbx.kill()
console.log(JSON.stringify(out))
