// Prints, as JSON, the project's own modules that importing the given module loads (child mode):
// node test/support/module-graph.ts MODULE_URL
import { registerHooks } from 'node:module';

const loaded = new Set<string>();
registerHooks({
  load(url, context, next) {
    if (url.startsWith('file:') && !url.includes('/node_modules/')) loaded.add(url);
    return next(url, context);
  },
});
const target = process.argv[2];
if (!target) throw new Error('module-graph: give the module URL to import');
await import(target);
process.stdout.write(JSON.stringify([...loaded]));
