// Regenerates src/api/schema.d.ts from the backend's OpenAPI document.
//   npm run gen:api                 dump the spec with the project's Python (no server needed)
//   npm run gen:api -- <url|file>   read it from a running server or a JSON file instead
import { execFileSync } from "node:child_process";
import { writeFileSync, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const web = resolve(here, "..");
const root = resolve(web, "..");
const out = resolve(web, "src/api/schema.d.ts");
let source = process.argv[2];
if (!source) {
  const python = resolve(root, ".venv/bin/python");
  const code =
    "import json,sys,tempfile,pathlib;" +
    "from clickphone.config import Settings;" +
    "from clickphone.app import create_app;" +
    "from clickphone.bus import EventBus;" +
    "from clickphone.db.session import Database;" +
    "d=pathlib.Path(tempfile.mkdtemp());" +
    "app=create_app(Settings(data_dir=d),database=Database('sqlite+aiosqlite:///'+str(d/'x.db')),bus=EventBus());" +
    "sys.stdout.write(json.dumps(app.openapi(),indent=1,sort_keys=True))";
  const json = execFileSync(python, ["-c", code], { cwd: root, encoding: "utf8" });
  source = resolve(web, "openapi.json");
  mkdirSync(dirname(source), { recursive: true });
  writeFileSync(source, json);
}
execFileSync(resolve(web, "node_modules/.bin/openapi-typescript"), [source, "-o", out], {
  cwd: web,
  stdio: "inherit",
});
