"""Demo data of the directory chain: a city's departments with real-looking duties (with their
legal bases), divisions, catalogs hung from the duties and data items, generated
deterministically from a seed; and example data sources of the planning commission's
land-use planning catalog (CSV, SQLite, a PostgreSQL script).

``generate(sizes, seed)`` returns one ``Department`` per department: its organisation id
and name and its directory as a ``bulk.Plan``, ready for ``bulk.plan_changes`` and
``bulk.calls_of``. The first two departments are always the planning commission
(``planning``), whose catalog ``301001/000001`` is the land-use planning data
(土地利用规划数据, conditional), and the water authority (``water``), whose duty
``flood-control`` justifies requesting it. Totals are exact: ``sizes.catalogs``
catalogs, ``sizes.items`` items (1 to ``ITEMS_BATCH_MAX`` per catalog, so each catalog's
items are one transaction), ``sizes.divisions`` divisions.

``write_sources(dir)`` writes ``landuse.csv`` (columns named by the catalog's item
codes), ``landuse.sqlite`` (table ``landuse``) and ``landuse.sql`` (``CREATE TABLE`` and
``INSERT`` for PostgreSQL) with ``LANDUSE_ROWS`` deterministic rows; the same seed-free
content on every run, so a source's hash is stable. Creating the departments'
organisations and sending the transactions is the CLI's part (``jinglian directory demo``).
"""

from __future__ import annotations

import csv
import io
import random
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from jinglian.apps.directory import bulk
from jinglian.types.errors import InvalidInput

__all__ = [
    "DEPARTMENTS_MAX",
    "LANDUSE_CATALOG",
    "LANDUSE_ITEMS",
    "LANDUSE_ROWS",
    "PLANNING",
    "SOURCE_FILES",
    "WATER",
    "WATER_DUTY",
    "Department",
    "Sizes",
    "generate",
    "landuse_rows",
    "write_sources",
]

PLANNING = "planning"
"""Organisation id of the planning commission."""
WATER = "water"
"""Organisation id of the water authority."""
WATER_DUTY = "flood-control"
"""The water authority's duty that justifies requesting the land-use planning data."""
LANDUSE_CATALOG = "301001/000001"
"""The planning commission's land-use planning data catalog."""
LANDUSE_ROWS = 3000
"""Rows of the example land-use data source."""
SOURCE_FILES = ("landuse.csv", "landuse.sqlite", "landuse.sql")
"""The example data sources ``write_sources`` writes."""
RELEASE_YEARS = (2019, 2020, 2021, 2022, 2023, 2024, 2025)

# (org id, Chinese name, English name, duties: (id, Chinese, English, legal basis))
_DEPARTMENTS: tuple[tuple[str, str, str, tuple[tuple[str, str, str, str], ...]], ...] = (
    (
        PLANNING,
        "规划和自然资源委员会",
        "Planning and Natural Resources Commission",
        (
            (
                "land-planning",
                "国土空间规划编制与实施",
                "Territorial spatial planning",
                "《中华人民共和国城乡规划法》第十二条；《中华人民共和国土地管理法》第十五条",
            ),
            (
                "land-registry",
                "不动产统一登记",
                "Unified real-estate registration",
                "《不动产登记暂行条例》第六条",
            ),
            (
                "mineral",
                "矿产资源管理",
                "Mineral resources management",
                "《中华人民共和国矿产资源法》第十一条",
            ),
            (
                "surveying",
                "测绘地理信息管理",
                "Surveying and geographic information",
                "《中华人民共和国测绘法》第四条",
            ),
        ),
    ),
    (
        WATER,
        "水务局",
        "Water Authority",
        (
            (
                WATER_DUTY,
                "防汛排涝与水旱灾害防御",
                "Flood control and drainage",
                "《中华人民共和国防洪法》第八条；《中华人民共和国水法》第十二条",
            ),
            (
                "water-supply",
                "城乡供水管理",
                "Urban and rural water supply",
                "《城市供水条例》第七条",
            ),
            (
                "drainage",
                "排水与污水处理",
                "Drainage and sewage treatment",
                "《城镇排水与污水处理条例》第五条",
            ),
            (
                "river-chief",
                "河湖管理与保护",
                "Rivers and lakes protection",
                "《中华人民共和国水法》第二十条",
            ),
        ),
    ),
    (
        "market",
        "市场监督管理局",
        "Administration for Market Regulation",
        (
            (
                "registration",
                "市场主体登记",
                "Business registration",
                "《中华人民共和国市场主体登记管理条例》第五条",
            ),
            (
                "food-safety",
                "食品安全监督",
                "Food safety supervision",
                "《中华人民共和国食品安全法》第六条",
            ),
            (
                "quality",
                "产品质量监督",
                "Product quality supervision",
                "《中华人民共和国产品质量法》第八条",
            ),
            ("pricing", "价格监督检查", "Price supervision", "《中华人民共和国价格法》第五条"),
        ),
    ),
    (
        "police",
        "公安局",
        "Public Security Bureau",
        (
            (
                "household",
                "户籍管理",
                "Household registration",
                "《中华人民共和国户口登记条例》第二条",
            ),
            (
                "traffic",
                "道路交通安全管理",
                "Road traffic safety",
                "《中华人民共和国道路交通安全法》第五条",
            ),
            (
                "entry-exit",
                "出入境管理",
                "Exit and entry administration",
                "《中华人民共和国出境入境管理法》第四条",
            ),
        ),
    ),
    (
        "tax",
        "税务局",
        "Taxation Bureau",
        (
            (
                "tax-collection",
                "税收征收管理",
                "Tax collection",
                "《中华人民共和国税收征收管理法》第五条",
            ),
            (
                "invoice",
                "发票管理",
                "Invoice administration",
                "《中华人民共和国发票管理办法》第四条",
            ),
            (
                "social-fees",
                "社会保险费征收",
                "Social insurance contribution collection",
                "《中华人民共和国社会保险法》第五十九条",
            ),
        ),
    ),
    (
        "court",
        "中级人民法院",
        "Intermediate People's Court",
        (
            (
                "trials",
                "审判执行",
                "Trials and enforcement",
                "《中华人民共和国人民法院组织法》第二条",
            ),
            (
                "judgments",
                "裁判文书公开",
                "Publication of judgments",
                "《最高人民法院关于人民法院在互联网公布裁判文书的规定》第三条",
            ),
        ),
    ),
    (
        "bank-pboc",
        "人民银行分行",
        "People's Bank of China Branch",
        (
            ("credit-reference", "征信管理", "Credit reference", "《征信业管理条例》第四条"),
            (
                "payments",
                "支付结算管理",
                "Payment and settlement",
                "《中华人民共和国中国人民银行法》第四条",
            ),
        ),
    ),
    (
        "commerce-bank",
        "城市商业银行",
        "City Commercial Bank",
        (
            ("lending", "普惠金融信贷", "Inclusive lending", "《中华人民共和国商业银行法》第三条"),
            ("account", "账户管理", "Account management", "《人民币银行结算账户管理办法》第三条"),
        ),
    ),
    (
        "housing",
        "住房和城乡建设委员会",
        "Housing and Urban-Rural Development Commission",
        (
            (
                "construction-permit",
                "建筑工程施工许可",
                "Construction permits",
                "《中华人民共和国建筑法》第七条",
            ),
            ("housing-security", "住房保障", "Affordable housing", "《城镇住房保障条例》第五条"),
            (
                "property-market",
                "房地产市场监管",
                "Real-estate market supervision",
                "《城市房地产开发经营管理条例》第四条",
            ),
        ),
    ),
    (
        "transport",
        "交通委员会",
        "Transport Commission",
        (
            ("public-transit", "城市公共交通管理", "Public transit", "《城市公共交通条例》第六条"),
            (
                "road-transport",
                "道路运输管理",
                "Road transport",
                "《中华人民共和国道路运输条例》第七条",
            ),
        ),
    ),
    (
        "ecology",
        "生态环境局",
        "Ecology and Environment Bureau",
        (
            (
                "eia",
                "环境影响评价",
                "Environmental impact assessment",
                "《中华人民共和国环境影响评价法》第十六条",
            ),
            (
                "pollution",
                "污染源监管",
                "Pollution source supervision",
                "《中华人民共和国环境保护法》第十条",
            ),
            (
                "air-quality",
                "大气环境监测",
                "Air quality monitoring",
                "《中华人民共和国大气污染防治法》第五条",
            ),
        ),
    ),
    (
        "health",
        "卫生健康委员会",
        "Health Commission",
        (
            (
                "medical-institutions",
                "医疗机构管理",
                "Medical institutions",
                "《医疗机构管理条例》第六条",
            ),
            (
                "disease-control",
                "疾病预防控制",
                "Disease prevention and control",
                "《中华人民共和国传染病防治法》第七条",
            ),
            (
                "birth",
                "出生医学证明管理",
                "Birth certificates",
                "《中华人民共和国母婴保健法》第二十三条",
            ),
        ),
    ),
    (
        "education",
        "教育委员会",
        "Education Commission",
        (
            ("schools", "学校设置与管理", "Schools", "《中华人民共和国教育法》第十四条"),
            (
                "student-status",
                "学籍管理",
                "Student records",
                "《中华人民共和国义务教育法》第十二条",
            ),
        ),
    ),
    (
        "hrss",
        "人力资源和社会保障局",
        "Human Resources and Social Security Bureau",
        (
            ("employment", "就业服务", "Employment services", "《中华人民共和国就业促进法》第六条"),
            ("pension", "养老保险管理", "Pension insurance", "《中华人民共和国社会保险法》第十条"),
            (
                "labour-inspection",
                "劳动保障监察",
                "Labour inspection",
                "《劳动保障监察条例》第三条",
            ),
        ),
    ),
    (
        "civil-affairs",
        "民政局",
        "Civil Affairs Bureau",
        (
            ("marriage", "婚姻登记", "Marriage registration", "《婚姻登记条例》第二条"),
            ("social-assistance", "社会救助", "Social assistance", "《社会救助暂行办法》第三条"),
            (
                "social-orgs",
                "社会组织登记",
                "Social organisations",
                "《社会团体登记管理条例》第六条",
            ),
        ),
    ),
    (
        "finance",
        "财政局",
        "Finance Bureau",
        (
            ("budget", "预算管理", "Budget management", "《中华人民共和国预算法》第二十三条"),
            (
                "procurement",
                "政府采购监管",
                "Government procurement",
                "《中华人民共和国政府采购法》第十三条",
            ),
        ),
    ),
    (
        "stats",
        "统计局",
        "Statistics Bureau",
        (
            (
                "census",
                "人口与经济普查",
                "Population and economic census",
                "《中华人民共和国统计法》第十六条",
            ),
            (
                "national-accounts",
                "国民经济核算",
                "National accounts",
                "《中华人民共和国统计法》第三条",
            ),
        ),
    ),
    (
        "emergency",
        "应急管理局",
        "Emergency Management Bureau",
        (
            ("work-safety", "安全生产监管", "Work safety", "《中华人民共和国安全生产法》第十条"),
            ("disaster-relief", "自然灾害救助", "Disaster relief", "《自然灾害救助条例》第三条"),
            (
                "hazardous-chemicals",
                "危险化学品监管",
                "Hazardous chemicals",
                "《危险化学品安全管理条例》第六条",
            ),
        ),
    ),
    (
        "agriculture",
        "农业农村局",
        "Agriculture and Rural Affairs Bureau",
        (
            (
                "farmland",
                "耕地质量与高标准农田",
                "Farmland quality",
                "《中华人民共和国农业法》第五十八条",
            ),
            (
                "rural-land",
                "农村土地承包管理",
                "Rural land contracts",
                "《中华人民共和国农村土地承包法》第十二条",
            ),
        ),
    ),
    (
        "forestry",
        "园林绿化局",
        "Landscaping and Forestry Bureau",
        (
            ("greening", "城市绿化管理", "Urban greening", "《城市绿化条例》第七条"),
            ("forest", "森林资源保护", "Forest protection", "《中华人民共和国森林法》第九条"),
        ),
    ),
    (
        "culture",
        "文化和旅游局",
        "Culture and Tourism Bureau",
        (
            ("heritage", "文物保护", "Cultural heritage", "《中华人民共和国文物保护法》第八条"),
            ("tourism", "旅游市场管理", "Tourism market", "《中华人民共和国旅游法》第七条"),
        ),
    ),
    (
        "sports",
        "体育局",
        "Sports Bureau",
        (("fitness", "全民健身", "Public fitness", "《全民健身条例》第五条"),),
    ),
    (
        "veterans",
        "退役军人事务局",
        "Veterans Affairs Bureau",
        (
            (
                "resettlement",
                "退役军人安置",
                "Veteran resettlement",
                "《中华人民共和国退役军人保障法》第五条",
            ),
        ),
    ),
    (
        "audit",
        "审计局",
        "Audit Bureau",
        (
            (
                "public-audit",
                "公共资金审计",
                "Audit of public funds",
                "《中华人民共和国审计法》第八条",
            ),
        ),
    ),
    (
        "justice",
        "司法局",
        "Justice Bureau",
        (
            ("legal-aid", "法律援助", "Legal aid", "《中华人民共和国法律援助法》第五条"),
            ("notary", "公证管理", "Notaries", "《中华人民共和国公证法》第五条"),
        ),
    ),
    (
        "procuratorate",
        "人民检察院",
        "People's Procuratorate",
        (
            (
                "prosecution",
                "刑事检察",
                "Criminal prosecution",
                "《中华人民共和国人民检察院组织法》第二十条",
            ),
            (
                "public-interest",
                "公益诉讼检察",
                "Public-interest litigation",
                "《中华人民共和国行政诉讼法》第二十五条",
            ),
        ),
    ),
    (
        "development-reform",
        "发展和改革委员会",
        "Development and Reform Commission",
        (
            (
                "investment-projects",
                "固定资产投资项目管理",
                "Investment projects",
                "《企业投资项目核准和备案管理条例》第三条",
            ),
            ("energy", "能源管理", "Energy", "《中华人民共和国节约能源法》第十条"),
        ),
    ),
    (
        "economy-it",
        "经济和信息化局",
        "Economy and Information Technology Bureau",
        (
            (
                "industry",
                "工业运行监测",
                "Industrial monitoring",
                "《中华人民共和国中小企业促进法》第五条",
            ),
            ("radio", "无线电管理", "Radio spectrum", "《中华人民共和国无线电管理条例》第八条"),
        ),
    ),
    (
        "commerce",
        "商务局",
        "Commerce Bureau",
        (
            (
                "foreign-trade",
                "对外贸易管理",
                "Foreign trade",
                "《中华人民共和国对外贸易法》第三条",
            ),
            (
                "retail",
                "商贸流通管理",
                "Retail and distribution",
                "《商品零售场所塑料购物袋有偿使用管理办法》第四条",
            ),
        ),
    ),
    (
        "city-management",
        "城市管理委员会",
        "City Management Commission",
        (
            ("sanitation", "环境卫生管理", "Sanitation", "《城市市容和环境卫生管理条例》第四条"),
            ("gas-heat", "燃气与供热管理", "Gas and heating", "《城镇燃气管理条例》第五条"),
        ),
    ),
    (
        "ethnic-religious",
        "民族宗教事务委员会",
        "Ethnic and Religious Affairs Commission",
        (("religious-venues", "宗教活动场所管理", "Religious venues", "《宗教事务条例》第六条"),),
    ),
    (
        "government-affairs",
        "政务服务管理局",
        "Government Services Administration",
        (
            (
                "one-window",
                "政务服务“一网通办”",
                "One-stop government services",
                "《优化营商环境条例》第三十五条",
            ),
            (
                "big-data",
                "政务数据共享",
                "Government data sharing",
                "《政务信息资源共享管理暂行办法》第五条",
            ),
        ),
    ),
    (
        "fire",
        "消防救援支队",
        "Fire and Rescue Detachment",
        (
            (
                "fire-inspection",
                "消防监督检查",
                "Fire inspection",
                "《中华人民共和国消防法》第五十三条",
            ),
        ),
    ),
    (
        "customs",
        "海关",
        "Customs",
        (
            (
                "declarations",
                "进出口货物报关",
                "Import and export declarations",
                "《中华人民共和国海关法》第八条",
            ),
        ),
    ),
    (
        "medical-insurance",
        "医疗保障局",
        "Healthcare Security Bureau",
        (
            (
                "medical-fund",
                "医保基金监管",
                "Medical insurance fund",
                "《医疗保障基金使用监督管理条例》第五条",
            ),
            (
                "drug-pricing",
                "药品价格与招采",
                "Drug pricing and procurement",
                "《中华人民共和国药品管理法》第八十五条",
            ),
        ),
    ),
    (
        "drug-admin",
        "药品监督管理局",
        "Medical Products Administration",
        (
            (
                "drug-licensing",
                "药品经营许可",
                "Drug distribution licences",
                "《中华人民共和国药品管理法》第五十一条",
            ),
        ),
    ),
    (
        "intellectual-property",
        "知识产权局",
        "Intellectual Property Office",
        (("patents", "专利管理", "Patents", "《中华人民共和国专利法》第三条"),),
    ),
    (
        "archives",
        "档案馆",
        "Municipal Archives",
        (("records", "档案接收与利用", "Archival records", "《中华人民共和国档案法》第八条"),),
    ),
    (
        "meteorology",
        "气象局",
        "Meteorological Bureau",
        (
            (
                "forecasts",
                "天气预报与预警发布",
                "Forecasts and warnings",
                "《中华人民共和国气象法》第二十二条",
            ),
            ("climate", "气候资源监测", "Climate monitoring", "《气象灾害防御条例》第五条"),
        ),
    ),
    (
        "earthquake",
        "地震局",
        "Earthquake Administration",
        (
            (
                "seismic",
                "地震监测预报",
                "Seismic monitoring",
                "《中华人民共和国防震减灾法》第十七条",
            ),
        ),
    ),
    (
        "state-assets",
        "国有资产监督管理委员会",
        "State-owned Assets Commission",
        (
            (
                "soe",
                "国有企业监管",
                "State-owned enterprises",
                "《企业国有资产监督管理暂行条例》第十三条",
            ),
        ),
    ),
    (
        "financial-regulation",
        "金融监督管理局",
        "Financial Regulatory Bureau",
        (
            (
                "local-finance",
                "地方金融组织监管",
                "Local financial organisations",
                "《防范和处置非法集资条例》第六条",
            ),
        ),
    ),
    (
        "housing-fund",
        "住房公积金管理中心",
        "Housing Provident Fund Centre",
        (
            (
                "provident-fund",
                "住房公积金归集与提取",
                "Provident fund deposits and withdrawals",
                "《住房公积金管理条例》第五条",
            ),
        ),
    ),
    (
        "public-resources",
        "公共资源交易中心",
        "Public Resources Trading Centre",
        (("tenders", "招标投标交易", "Tendering", "《中华人民共和国招标投标法》第七条"),),
    ),
    (
        "credit",
        "社会信用体系建设办公室",
        "Social Credit Office",
        (
            (
                "credit-records",
                "公共信用信息管理",
                "Public credit information",
                "《企业信息公示暂行条例》第六条",
            ),
        ),
    ),
    (
        "disabled",
        "残疾人联合会",
        "Disabled Persons' Federation",
        (
            (
                "disability-cards",
                "残疾人证管理",
                "Disability certificates",
                "《中华人民共和国残疾人保障法》第八条",
            ),
        ),
    ),
    (
        "women",
        "妇女联合会",
        "Women's Federation",
        (
            (
                "women-rights",
                "妇女儿童权益保障",
                "Women's and children's rights",
                "《中华人民共和国妇女权益保障法》第七条",
            ),
        ),
    ),
    (
        "trade-union",
        "总工会",
        "Federation of Trade Unions",
        (("workers", "职工帮扶", "Worker assistance", "《中华人民共和国工会法》第六条"),),
    ),
    (
        "youth-league",
        "共青团市委",
        "Youth League Committee",
        (("youth", "青少年服务", "Youth services", "《中华人民共和国未成年人保护法》第九条"),),
    ),
    (
        "post",
        "邮政管理局",
        "Postal Administration",
        (("express", "快递市场监管", "Express delivery", "《快递暂行条例》第四条"),),
    ),
    (
        "telecom",
        "通信管理局",
        "Communications Administration",
        (
            (
                "telecom-licences",
                "电信业务经营许可",
                "Telecom licences",
                "《中华人民共和国电信条例》第七条",
            ),
        ),
    ),
    (
        "power-grid",
        "供电公司",
        "Power Supply Company",
        (
            (
                "electricity",
                "电力供应与用电服务",
                "Electricity supply",
                "《中华人民共和国电力法》第四条",
            ),
        ),
    ),
    (
        "water-group",
        "自来水集团",
        "Waterworks Group",
        (("waterworks", "城市公共供水", "Public water supply", "《城市供水条例》第十三条"),),
    ),
    (
        "gas-group",
        "燃气集团",
        "Gas Group",
        (("gas-supply", "管道燃气供应", "Piped gas supply", "《城镇燃气管理条例》第十七条"),),
    ),
    (
        "rail-transit",
        "轨道交通集团",
        "Rail Transit Group",
        (("metro", "轨道交通运营", "Metro operation", "《城市轨道交通运营管理规定》第四条"),),
    ),
    (
        "airport",
        "机场集团",
        "Airport Group",
        (("aviation", "民用机场运行", "Airport operations", "《民用机场管理条例》第四条"),),
    ),
    (
        "district-east",
        "东城区人民政府",
        "Dongcheng District Government",
        (
            (
                "district-affairs",
                "区级政务管理",
                "District administration",
                "《中华人民共和国地方各级人民代表大会和地方各级人民政府组织法》第七十三条",
            ),
        ),
    ),
    (
        "district-west",
        "西城区人民政府",
        "Xicheng District Government",
        (
            (
                "district-affairs",
                "区级政务管理",
                "District administration",
                "《中华人民共和国地方各级人民代表大会和地方各级人民政府组织法》第七十三条",
            ),
        ),
    ),
    (
        "district-north",
        "朝阳区人民政府",
        "Chaoyang District Government",
        (
            (
                "district-affairs",
                "区级政务管理",
                "District administration",
                "《中华人民共和国地方各级人民代表大会和地方各级人民政府组织法》第七十三条",
            ),
        ),
    ),
    (
        "district-south",
        "丰台区人民政府",
        "Fengtai District Government",
        (
            (
                "district-affairs",
                "区级政务管理",
                "District administration",
                "《中华人民共和国地方各级人民代表大会和地方各级人民政府组织法》第七十三条",
            ),
        ),
    ),
    (
        "new-area",
        "经济技术开发区管委会",
        "Economic-Technological Development Area",
        (
            (
                "zone-planning",
                "开发区规划建设",
                "Zone planning and construction",
                "《国务院关于促进国家级经济技术开发区转型升级创新发展的若干意见》",
            ),
        ),
    ),
)
DEPARTMENTS_MAX = len(_DEPARTMENTS)
"""Departments the generator knows (and the most ``--departments`` accepts)."""

_CATALOG_KINDS = (
    ("基础信息", "basic records"),
    ("登记信息", "registrations"),
    ("审批结果", "approval decisions"),
    ("许可证照", "licences"),
    ("监测数据", "monitoring data"),
    ("统计报表", "statistical reports"),
    ("执法检查记录", "inspection records"),
    ("年度报告", "annual reports"),
    ("台账", "ledger"),
    ("空间数据", "spatial data"),
    ("信用评价", "credit ratings"),
    ("投诉举报", "complaints"),
)
_SCOPES = ("", "（市级）", "（区级）", "（历史）", "（季度）", "（月度）")
_SCOPES_EN = ("", " (city)", " (districts)", " (archive)", " (quarterly)", " (monthly)")
_FORMATS = ("csv", "xlsx", "json", "shp", "pdf", "xml")
_SHARE_CONDITIONS = (
    "仅用于法定职责范围内的行政审批与监管 For statutory approvals and supervision only",
    "需说明用途并经本部门审核 Purpose reviewed by the provider",
    "不得向第三方提供 Not to be passed to third parties",
)
_NOT_SHARED = (
    "涉及个人隐私，依法不予共享 Personal data: not shared by law",
    "涉及国家秘密 Classified",
)
_ITEM_POOL = (
    ("uscc", "统一社会信用代码 Unified social credit code", "string", "internal", "GB 32100-2015"),
    ("entity_name", "名称 Name", "string", "public", ""),
    ("address", "地址 Address", "string", "internal", ""),
    ("division_code", "行政区划代码 Division code", "string", "public", "GB/T 2260-2007"),
    ("registered_on", "登记日期 Registration date", "date", "public", "GB/T 7408-2005"),
    ("valid_until", "有效期至 Valid until", "date", "public", "GB/T 7408-2005"),
    ("amount", "金额（元）Amount (CNY)", "decimal", "sensitive", ""),
    ("person_name", "姓名 Person name", "string", "sensitive", ""),
    ("id_number", "公民身份号码 Citizen id number", "string", "restricted", "GB 11643-1999"),
    ("phone", "联系电话 Phone", "string", "sensitive", ""),
    ("status", "状态 Status", "string", "public", ""),
    ("category", "类别 Category", "string", "public", ""),
    ("approver", "审批机关 Approving authority", "string", "public", ""),
    ("document_no", "文号 Document number", "string", "public", ""),
    ("longitude", "经度 Longitude", "decimal", "internal", "GB/T 18522-2001"),
    ("latitude", "纬度 Latitude", "decimal", "internal", "GB/T 18522-2001"),
    ("area_m2", "面积（平方米）Area (m²)", "decimal", "public", ""),
    ("count", "数量 Count", "integer", "public", ""),
    ("updated_at", "更新时间 Updated at", "datetime", "public", "GB/T 7408-2005"),
    ("remark", "备注 Remark", "string", "internal", ""),
    ("legal_rep", "法定代表人 Legal representative", "string", "internal", ""),
    ("industry_code", "行业代码 Industry code", "string", "public", "GB/T 4754-2017"),
    ("attachment", "附件 Attachment", "binary", "internal", ""),
    ("is_valid", "是否有效 Valid", "boolean", "public", ""),
    ("score", "评分 Score", "decimal", "internal", ""),
)
LANDUSE_ITEMS: tuple[tuple[str, str, str, str, str], ...] = (
    ("parcel_id", "宗地编号 Parcel id", "string", "internal", "GB/T 37346-2019"),
    ("land_use_class", "用地分类 Land-use class", "string", "public", "GB/T 21010-2017"),
    ("area_m2", "用地面积（平方米）Area (m²)", "decimal", "public", ""),
    ("plan_no", "规划批复文号 Plan number", "string", "public", ""),
    ("approval_date", "批复日期 Approval date", "date", "public", "GB/T 7408-2005"),
    ("district", "所在区 District", "string", "public", "GB/T 2260-2007"),
    ("plan_name", "规划名称 Plan name", "string", "public", ""),
    ("far_max", "容积率上限 Floor-area ratio (max)", "decimal", "public", ""),
    ("height_max_m", "建筑限高（米）Height limit (m)", "decimal", "public", ""),
    ("green_ratio", "绿地率 Green ratio", "decimal", "public", ""),
)
_LAND_USE_CLASSES = (
    ("0701", "城镇住宅用地"), ("0702", "农村宅基地"), ("05", "商业服务业用地"),
    ("0601", "工业用地"), ("0602", "采矿用地"), ("08", "公共管理与公共服务用地"),
    ("0810", "公园与绿地"), ("1001", "铁路用地"), ("1003", "公路用地"),
    ("1101", "河流水面"), ("1104", "坑塘水面"), ("0101", "水田"), ("0103", "旱地"),
    ("0301", "乔木林地"), ("1109", "水工建筑用地"),
)  # fmt: skip
_DISTRICTS = (
    ("110101", "东城区"), ("110102", "西城区"), ("110105", "朝阳区"), ("110106", "丰台区"),
    ("110107", "石景山区"), ("110108", "海淀区"), ("110109", "门头沟区"), ("110111", "房山区"),
    ("110112", "通州区"), ("110113", "顺义区"), ("110114", "昌平区"), ("110115", "大兴区"),
)  # fmt: skip
_DIVISION_NAMES = (
    ("office", "办公室 General Office"),
    ("policy", "政策法规处 Policy and Regulations"),
    ("finance", "财务处 Finance"),
    ("personnel", "人事处 Personnel"),
    ("science", "科技信息处 Science and Information"),
    ("supervision", "监督检查处 Supervision"),
    ("approvals", "行政审批处 Administrative Approvals"),
    ("statistics", "统计分析处 Statistics"),
    ("petitions", "信访处 Petitions"),
    ("data-centre", "数据中心 Data Centre"),
)


@dataclass(frozen=True, slots=True)
class Sizes:
    """How much the demo generates in all."""

    departments: int = 60
    catalogs: int = 5000
    items: int = 50_000
    divisions: int = 1000

    def check(self) -> None:
        """``InvalidInput`` unless the sizes can be generated."""
        if not 2 <= self.departments <= DEPARTMENTS_MAX:
            raise InvalidInput(
                f"departments must be 2 to {DEPARTMENTS_MAX}, not {self.departments}"
            )
        if self.catalogs < self.departments:
            raise InvalidInput(f"catalogs ({self.catalogs}) must be at least one per department")
        if self.catalogs > self.departments * 999:
            raise InvalidInput(f"catalogs ({self.catalogs}) over 999 per department")
        if (
            not self.catalogs + len(LANDUSE_ITEMS)
            <= self.items
            <= self.catalogs * bulk.ITEMS_BATCH_MAX
        ):
            raise InvalidInput(
                f"items ({self.items}) must be at least one per catalog plus the land-use "
                f"catalog's {len(LANDUSE_ITEMS)} and at most {bulk.ITEMS_BATCH_MAX} per catalog"
            )
        if not self.departments <= self.divisions <= self.departments * 500:
            raise InvalidInput(f"divisions ({self.divisions}) must be 1 to 500 per department")


@dataclass
class Department:
    """One generated department: its organisation and its directory."""

    org: str
    name: str
    """``Chinese name English name`` (the organisation's name on chain)."""
    plan: bulk.Plan = field(default_factory=bulk.Plan)


def _split(total: int, parts: int, rng: random.Random, low: int, high: int) -> list[int]:
    """``total`` split into ``parts`` integers in ``[low, high]`` with random weights."""
    weights = [rng.uniform(0.5, 1.5) for _ in range(parts)]
    scale = total / sum(weights)
    counts = [min(high, max(low, int(w * scale))) for w in weights]
    index = 0
    while sum(counts) != total:
        step = 1 if sum(counts) < total else -1
        value = counts[index % parts] + step
        if low <= value <= high:
            counts[index % parts] = value
        index += 1
    return counts


def _entry(kind: str, key: str, value: dict[str, object], where: str) -> bulk.Entry:
    return bulk.Entry(kind=kind, key=key, value=dict(value), where=where)


def generate(sizes: Sizes, seed: int = 1) -> list[Department]:
    """The departments with their directories, the same for the same sizes and seed."""
    sizes.check()
    rng = random.Random(seed)
    chosen = _DEPARTMENTS[: sizes.departments]
    catalog_counts = _split(sizes.catalogs, len(chosen), rng, 1, 999)
    division_counts = _split(sizes.divisions, len(chosen), rng, 1, 500)
    item_counts = _split(
        sizes.items - len(LANDUSE_ITEMS), sizes.catalogs - 1, rng, 1, bulk.ITEMS_BATCH_MAX
    )
    item_counts.insert(0, len(LANDUSE_ITEMS))
    departments = []
    catalog_index = 0
    for number, (org, zh, en, duties) in enumerate(chosen, start=1):
        department = Department(org=org, name=f"{zh} {en}")
        plan = department.plan
        where = f"demo:{org}"
        for duty_id, duty_zh, duty_en, basis in duties:
            plan.add(
                _entry(
                    "duty",
                    duty_id,
                    {"id": duty_id, "name": f"{duty_zh} {duty_en}", "legal_basis": basis},
                    where,
                )
            )
        _divisions(plan, division_counts[number - 1], where, rng)
        for sequence in range(1, catalog_counts[number - 1] + 1):
            items = item_counts[catalog_index]
            catalog_index += 1
            if org == PLANNING and sequence == 1:
                _landuse_catalog(plan, where)
                continue
            _catalog(plan, number, sequence, duties, items, where, rng)
        departments.append(department)
    return departments


def _divisions(plan: bulk.Plan, count: int, where: str, rng: random.Random) -> None:
    del rng
    for index in range(count):
        if index < len(_DIVISION_NAMES):
            division_id, name = _DIVISION_NAMES[index]
        else:
            district_index = (index - len(_DIVISION_NAMES)) % len(_DISTRICTS)
            round_number = (index - len(_DIVISION_NAMES)) // len(_DISTRICTS)
            code, district = _DISTRICTS[district_index]
            division_id = f"branch-{code}" + (f"-{round_number + 1}" if round_number else "")
            suffix = "分局" if round_number == 0 else f"第{round_number + 1}工作站"
            name = f"{district}{suffix} {district} branch" + (
                f" {round_number + 1}" if round_number else ""
            )
        plan.add(_entry("division", division_id, {"id": division_id, "name": name}, where))


def _catalog(
    plan: bulk.Plan,
    number: int,
    sequence: int,
    duties: Sequence[tuple[str, str, str, str]],
    item_count: int,
    where: str,
    rng: random.Random,
) -> None:
    duty_index = (sequence - 1) % len(duties)
    duty_id, duty_zh, duty_en, _ = duties[duty_index]
    kind_zh, kind_en = _CATALOG_KINDS[(sequence - 1) // len(duties) % len(_CATALOG_KINDS)]
    scope = (sequence - 1) // (len(duties) * len(_CATALOG_KINDS)) % len(_SCOPES)
    code = f"3{number:02d}{duty_index + 1:03d}/{sequence:06d}"
    roll = rng.random()
    share_type = "conditional" if roll < 0.5 else "unconditional" if roll < 0.85 else "not_shared"
    condition = {
        "conditional": rng.choice(_SHARE_CONDITIONS),
        "unconditional": "",
        "not_shared": rng.choice(_NOT_SHARED),
    }[share_type]
    year = rng.choice(RELEASE_YEARS)
    value: dict[str, object] = {
        "code": code,
        "name": f"{duty_zh}{kind_zh}{_SCOPES[scope]} {duty_en}: {kind_en}{_SCOPES_EN[scope]}",
        "summary": f"{duty_zh}工作形成的{kind_zh}。Records of {duty_en.lower()}: {kind_en}.",
        "duties": [duty_id],
        "share_type": share_type,
        "share_condition": condition,
        "share_mode": rng.choice(("file", "api", "query")),
        "format": rng.choice(_FORMATS),
        "update_cycle": rng.choice(bulk.UPDATE_CYCLES),
        "open_attribute": rng.choice(bulk.OPEN_ATTRIBUTES)
        if share_type != "not_shared"
        else "not_open",
        "release_date": f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "related": [],
    }
    plan.add(_entry("catalog", code, value, where))
    pool = list(_ITEM_POOL)
    rng.shuffle(pool)
    for index in range(item_count):
        item_code, name, data_type, sensitivity, standard = pool[index % len(pool)]
        if index >= len(pool):
            item_code, name = (
                f"{item_code}_{index // len(pool) + 1}",
                f"{name} {index // len(pool) + 1}",
            )
        _item(plan, code, (item_code, name, data_type, sensitivity, standard), where)


def _item(
    plan: bulk.Plan, catalog: str, fields: tuple[str, str, str, str, str], where: str
) -> None:
    item_code, name, data_type, sensitivity, standard = fields
    plan.add(
        _entry(
            "item",
            f"{catalog} {item_code}",
            {
                "catalog": catalog,
                "code": item_code,
                "name": name,
                "data_type": data_type,
                "sensitivity": sensitivity,
                "standard": standard,
            },
            where,
        )
    )


def _landuse_catalog(plan: bulk.Plan, where: str) -> None:
    value: dict[str, object] = {
        "code": LANDUSE_CATALOG,
        "name": "土地利用规划数据 Land-use planning data",
        "summary": (
            "全市国土空间规划中各宗地的用地分类、面积、规划指标与批复信息。"
            "Parcels of the city's land-use plan: land-use class, area, planning limits "
            "and the approving plan."
        ),
        "duties": ["land-planning"],
        "share_type": "conditional",
        "share_condition": (
            "用于防汛排涝、水资源规划等法定职责，不得向第三方提供 "
            "For statutory duties such as flood control and water planning; not to be "
            "passed on"
        ),
        "share_mode": "file",
        "format": "csv",
        "update_cycle": "quarterly",
        "open_attribute": "not_open",
        "release_date": "2024-03-15",
        "related": [],
    }
    plan.add(_entry("catalog", LANDUSE_CATALOG, value, where))
    for fields in LANDUSE_ITEMS:
        _item(plan, LANDUSE_CATALOG, fields, where)


# -- example data sources ------------------------------------------------------------------------


def landuse_rows(count: int = LANDUSE_ROWS) -> list[dict[str, str]]:
    """Deterministic rows of the land-use planning data (the same on every call)."""
    rng = random.Random(20240315)
    rows: list[dict[str, str]] = []
    for number in range(1, count + 1):
        district_code, district = rng.choice(_DISTRICTS)
        class_code, class_name = rng.choice(_LAND_USE_CLASSES)
        year = rng.choice(RELEASE_YEARS)
        rows.append(
            {
                "parcel_id": f"{district_code}{year % 100:02d}{number:06d}",
                "land_use_class": f"{class_code} {class_name}",
                "area_m2": f"{rng.uniform(300, 120_000):.2f}",
                "plan_no": f"规复〔{year}〕{rng.randint(1, 400)}号",
                "approval_date": f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                "district": f"{district_code} {district}",
                "plan_name": f"{district}{rng.choice(('街区控制性详细规划', '分区规划', '重点地区详细规划'))}",
                "far_max": f"{rng.choice((0.8, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0)):.1f}",
                "height_max_m": f"{rng.choice((18, 24, 36, 45, 60, 80, 100))}",
                "green_ratio": f"{rng.choice((0.10, 0.15, 0.20, 0.25, 0.30, 0.35)):.2f}",
            }
        )
    return rows


_SQL_TYPES = {"decimal": "NUMERIC(14, 2)", "date": "DATE", "string": "TEXT"}


def write_sources(directory: Path, count: int = LANDUSE_ROWS) -> dict[str, Path]:
    """Write the land-use planning data as ``landuse.csv``, ``landuse.sqlite`` (table
    ``landuse``) and ``landuse.sql`` (PostgreSQL) under ``directory``; their paths.

    Each file is written next to its final name and renamed into place, so a
    reader never sees half a file.
    """
    directory.mkdir(parents=True, exist_ok=True)
    rows = landuse_rows(count)
    columns = [code for code, *_ in LANDUSE_ITEMS]
    types = {code: data_type for code, _, data_type, _, _ in LANDUSE_ITEMS}
    paths = {name: directory / name for name in SOURCE_FILES}

    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    _replace(paths["landuse.csv"], text.getvalue().encode())

    tmp = paths["landuse.sqlite"].with_name("landuse.sqlite.tmp")
    tmp.unlink(missing_ok=True)
    with sqlite3.connect(tmp) as db:
        column_sql = ", ".join(
            f"{c} {'REAL' if types[c] == 'decimal' else 'TEXT'}"
            + (" PRIMARY KEY" if c == "parcel_id" else "")
            for c in columns
        )
        db.execute(f"CREATE TABLE landuse ({column_sql})")
        db.executemany(
            f"INSERT INTO landuse VALUES ({', '.join('?' for _ in columns)})",
            [[float(r[c]) if types[c] == "decimal" else r[c] for c in columns] for r in rows],
        )
    db.close()
    tmp.replace(paths["landuse.sqlite"])

    lines = [
        "-- The planning commission's land-use planning data (catalog 301001/000001),",
        '-- for PostgreSQL: psql "$DATABASE_URL" -f landuse.sql',
        "BEGIN;",
        "DROP TABLE IF EXISTS landuse;",
        "CREATE TABLE landuse (",
        ",\n".join(
            f"    {c} {_SQL_TYPES[types[c]]}" + (" PRIMARY KEY" if c == "parcel_id" else "")
            for c in columns
        ),
        ");",
    ]
    for start in range(0, len(rows), 500):
        values = ",\n".join(
            "(" + ", ".join(_sql_value(r[c], types[c]) for c in columns) + ")"
            for r in rows[start : start + 500]
        )
        lines.append(f"INSERT INTO landuse ({', '.join(columns)}) VALUES\n{values};")
    lines.append("COMMIT;")
    _replace(paths["landuse.sql"], ("\n".join(lines) + "\n").encode())
    return paths


def _sql_value(value: object, data_type: str) -> str:
    if data_type == "decimal":
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _replace(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
