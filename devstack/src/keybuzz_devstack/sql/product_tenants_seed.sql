-- The tenants of seed 004 (PH15-TENANT-SYNC-01).
INSERT INTO tenants (id, name, plan, status, country) VALUES
    ('ecomlg-001',      'eComLG',          'pro',        'active', 'FR'),
    ('kbz-001',         'KeyBuzz Demo 1',  'starter',    'active', 'FR'),
    ('kbz-002',         'KeyBuzz Demo 2',  'pro',        'active', 'FR'),
    ('kbz-003',         'KeyBuzz Demo 3',  'pro',        'active', 'DE'),
    ('kbz-004',         'KeyBuzz Demo 4',  'enterprise', 'active', 'FR'),
    ('tenant_test_dev', 'Tenant Test Dev', 'free',       'trial',  'FR')
ON CONFLICT (id) DO NOTHING;
