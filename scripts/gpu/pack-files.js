// Prints, one per line, the files under node_modules that a run on the GPU machine loads: every
// package that the library, the kernel and the library's tests (scripts/gpu/test-cuda.sh) name as
// a bare specifier of require()/import() in dist/{lib,kernel,test/lib}, as the files requiring it
// reads plus the package.json files that govern them. ES modules (hyparquet, hyparquet-writer) do
// not enter require.cache: their whole folders are printed. Used by pack.sh.
const fs = require('fs');
const path = require('path');
const { isBuiltin } = require('module');

const root = process.cwd() + path.sep;
const specifiers = new Set(['./dist/lib/index.js']);
const walk = (dir) => {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const f = path.join(dir, e.name);
    if (e.isDirectory()) walk(f);
    else if (f.endsWith('.js')) {
      for (const m of fs.readFileSync(f, 'utf8').matchAll(/(?:require|import)\(['"]([^.'"][^'"]*)['"]\)/g)) specifiers.add(m[1]);
    }
  }
};
for (const d of ['dist/lib', 'dist/kernel', 'dist/test/lib']) walk(d);

const out = new Set();
for (const s of specifiers) {
  if (isBuiltin(s)) continue;
  if (s.startsWith('.')) { require(path.resolve(s)); continue; }
  const name = s.split('/').slice(0, s.startsWith('@') ? 2 : 1).join('/');
  const pkg = JSON.parse(fs.readFileSync(`node_modules/${name}/package.json`, 'utf8'));
  if (pkg.type === 'module') out.add(`node_modules/${name}`);
  else require(s);
}
for (const f of Object.keys(require.cache)) {
  if (!f.includes(`${path.sep}node_modules${path.sep}`)) continue;
  out.add(path.relative(root, f));
  // Every package.json from the file's folder up to its package's root: a nested one sets the
  // module type of its folder (mathjs's lib/cjs/package.json says "commonjs").
  const pkgRoot = f.match(/^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//)?.[1];
  for (let d = path.dirname(f); pkgRoot && d.length >= pkgRoot.length; d = path.dirname(d)) {
    if (fs.existsSync(`${d}/package.json`)) out.add(path.relative(root, `${d}/package.json`));
  }
}
console.log([...out].join('\n'));
