/**
 * The JupyterLab range the extension supports is declared once: each shared module it
 * asks the page for (package.json's jupyterlab.sharedPackages, which the builder writes
 * into the bundle) requires exactly the range of its dependency. The builder would
 * otherwise require the versions of the core it was built against (^4.6.4), and an
 * older JupyterLab would warn (checked for real on JupyterLab 4.2 by make test-oldest).
 */
import * as fs from 'fs';
import * as path from 'path';

const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '../../package.json'), 'utf-8'));

describe('the supported JupyterLab range', () => {
  it('every @jupyterlab, @lumino and shared @codemirror dependency is shared with its own range', () => {
    const shared = pkg.jupyterlab.sharedPackages as Record<string, { requiredVersion: string }>;
    const wanted = Object.keys(pkg.dependencies).filter(
      name => /^@(jupyterlab|lumino|lezer)\//.test(name) || /^@codemirror\/(state|view)$/.test(name)
    );
    expect(Object.keys(shared).sort()).toEqual(wanted.sort());
    for (const name of wanted) {
      expect([name, shared[name].requiredVersion]).toEqual([name, pkg.dependencies[name]]);
    }
  });

  it('starts at JupyterLab 4.2 (4.2.5 for its security fix), as pyproject.toml says', () => {
    expect(pkg.dependencies['@jupyterlab/application']).toBe('^4.2.0');
    const pyproject = fs.readFileSync(path.join(__dirname, '../../pyproject.toml'), 'utf-8');
    expect(pyproject).toContain('lab = ["jupyterlab>=4.2.5,<5"]');
  });
});
